using System.Text.Json;
using Tokenflow.Core.Streams;

namespace Tokenflow.Server.OpenAi;

/// <summary>
/// The OpenAI <c>usage</c> object, written in one place for every door: chunks and completions, the
/// stream status object, and (through the property names and <see cref="Schema"/>) MCP tool results.
/// </summary>
internal static class UsageJson
{
    /// <summary>Property name of the prompt token count.</summary>
    public const string PromptTokens = "prompt_tokens";

    /// <summary>Property name of the generated token count.</summary>
    public const string CompletionTokens = "completion_tokens";

    /// <summary>Property name of their sum.</summary>
    public const string TotalTokens = "total_tokens";

    /// <summary>The JSON schema of the usage object, for output schemas.</summary>
    public const string Schema = $$"""
        {
          "type": "object",
          "properties": {
            "{{PromptTokens}}": { "type": "integer" },
            "{{CompletionTokens}}": { "type": "integer" },
            "{{TotalTokens}}": { "type": "integer" }
          },
          "required": ["{{PromptTokens}}", "{{CompletionTokens}}", "{{TotalTokens}}"]
        }
        """;

    private static readonly JsonEncodedText PromptTokensName = JsonEncodedText.Encode(PromptTokens);
    private static readonly JsonEncodedText CompletionTokensName = JsonEncodedText.Encode(CompletionTokens);
    private static readonly JsonEncodedText TotalTokensName = JsonEncodedText.Encode(TotalTokens);

    /// <summary>Writes <c>"usage":{…}</c> into the current object.</summary>
    public static void WriteUsage(Utf8JsonWriter writer, Usage usage)
    {
        writer.WriteStartObject("usage"u8);
        writer.WriteNumber(PromptTokensName, usage.PromptTokens);
        writer.WriteNumber(CompletionTokensName, usage.CompletionTokens);
        writer.WriteNumber(TotalTokensName, usage.TotalTokens);
        writer.WriteEndObject();
    }

    /// <summary>Writes <c>"usage":{…},"timings":{…}</c> into the current object.</summary>
    public static void Write(Utf8JsonWriter writer, Usage usage, Timings timings)
    {
        WriteUsage(writer, usage);

        // llama.cpp's server reports "timings" the same way; OpenAI clients ignore unknown fields.
        writer.WriteStartObject("timings"u8);
        writer.WriteNumber("ttft_ms"u8, Math.Round(timings.TimeToFirstTokenMs, 3));
        writer.WriteNumber("tpot_ms"u8, Math.Round(timings.TimePerOutputTokenMs, 3));
        writer.WriteEndObject();
    }
}
