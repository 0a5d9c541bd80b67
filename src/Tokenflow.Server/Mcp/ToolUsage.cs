using System.Text.Json.Serialization;
using Tokenflow.Core.Streams;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Mcp;

/// <summary>Token counts in tool results, named as in the OpenAI <c>usage</c> object (<see cref="UsageJson"/>).</summary>
internal sealed record ToolUsage(
    [property: JsonPropertyName(UsageJson.PromptTokens)] int PromptTokens,
    [property: JsonPropertyName(UsageJson.CompletionTokens)] int CompletionTokens,
    [property: JsonPropertyName(UsageJson.TotalTokens)] int TotalTokens)
{
    /// <summary>The JSON schema of this object, for output schemas.</summary>
    public const string Schema = UsageJson.Schema;

    public static ToolUsage From(Usage usage) => new(usage.PromptTokens, usage.CompletionTokens, usage.TotalTokens);
}
