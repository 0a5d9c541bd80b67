using System.Text.Json.Serialization;
using Tokenflow.Core.Streams;

namespace Tokenflow.Server.Mcp;

/// <summary>Token counts in tool results, named as in the OpenAI <c>usage</c> object.</summary>
internal sealed record ToolUsage(
    [property: JsonPropertyName("prompt_tokens")] int PromptTokens,
    [property: JsonPropertyName("completion_tokens")] int CompletionTokens,
    [property: JsonPropertyName("total_tokens")] int TotalTokens)
{
    public static ToolUsage From(Usage usage) => new(usage.PromptTokens, usage.CompletionTokens, usage.TotalTokens);

    /// <summary>The JSON schema of this object, for output schemas.</summary>
    public const string Schema = """
        {
          "type": "object",
          "properties": {
            "prompt_tokens": { "type": "integer" },
            "completion_tokens": { "type": "integer" },
            "total_tokens": { "type": "integer" }
          },
          "required": ["prompt_tokens", "completion_tokens", "total_tokens"]
        }
        """;
}
