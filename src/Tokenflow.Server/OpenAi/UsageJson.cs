using System.Text.Json;
using Tokenflow.Core.Streams;

namespace Tokenflow.Server.OpenAi;

/// <summary>Writes the OpenAI <c>usage</c> object and Tokenflow's <c>timings</c> beside it.</summary>
internal static class UsageJson
{
    /// <summary>Writes <c>"usage":{…},"timings":{…}</c> into the current object.</summary>
    public static void Write(Utf8JsonWriter writer, Usage usage, Timings timings)
    {
        writer.WriteStartObject("usage"u8);
        writer.WriteNumber("prompt_tokens"u8, usage.PromptTokens);
        writer.WriteNumber("completion_tokens"u8, usage.CompletionTokens);
        writer.WriteNumber("total_tokens"u8, usage.TotalTokens);
        writer.WriteEndObject();

        // llama.cpp's server reports "timings" the same way; OpenAI clients ignore unknown fields.
        writer.WriteStartObject("timings"u8);
        writer.WriteNumber("ttft_ms"u8, Math.Round(timings.TimeToFirstTokenMs, 3));
        writer.WriteNumber("tpot_ms"u8, Math.Round(timings.TimePerOutputTokenMs, 3));
        writer.WriteEndObject();
    }
}
