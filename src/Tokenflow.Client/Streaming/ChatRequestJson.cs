using System.Buffers;
using System.Text.Json;

namespace Tokenflow.Client;

/// <summary>Writes a <see cref="ChatRequest"/> as the chat completions body, without reflection.</summary>
internal static class ChatRequestJson
{
    /// <summary>The request body as UTF-8 JSON, always with <c>"stream": true</c>.</summary>
    public static byte[] ToUtf8(ChatRequest request)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            Write(w, request);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Writes the body object.</summary>
    public static void Write(Utf8JsonWriter w, ChatRequest request)
    {
        ArgumentException.ThrowIfNullOrEmpty(request.Model);
        w.WriteStartObject();
        w.WriteString("model"u8, request.Model);
        w.WriteStartArray("messages"u8);
        foreach (var message in request.Messages)
        {
            w.WriteStartObject();
            w.WriteString("role"u8, message.Role);
            w.WriteString("content"u8, message.Content);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteBoolean("stream"u8, true);
        if (request.IncludeUsage)
        {
            w.WriteStartObject("stream_options"u8);
            w.WriteBoolean("include_usage"u8, true);
            w.WriteEndObject();
        }

        if (request.MaxTokens is { } maxTokens)
        {
            w.WriteNumber("max_tokens"u8, maxTokens);
        }

        if (request.Temperature is { } temperature)
        {
            w.WriteNumber("temperature"u8, temperature);
        }

        if (request.TopP is { } topP)
        {
            w.WriteNumber("top_p"u8, topP);
        }

        if (request.Seed is { } seed)
        {
            w.WriteNumber("seed"u8, seed);
        }

        if (request.Stop is { Count: > 0 } stop)
        {
            w.WriteStartArray("stop"u8);
            foreach (var s in stop)
            {
                w.WriteStringValue(s);
            }

            w.WriteEndArray();
        }

        if (request.Background is { } background)
        {
            w.WriteBoolean("background"u8, background);
        }

        if (request.ResumeGraceMs is { } grace)
        {
            w.WriteNumber("resume_grace_ms"u8, grace);
        }

        foreach (var (name, value) in request.AdditionalProperties)
        {
            w.WritePropertyName(name);
            if (value is null)
            {
                w.WriteNullValue();
            }
            else
            {
                value.WriteTo(w);
            }
        }

        w.WriteEndObject();
    }
}
