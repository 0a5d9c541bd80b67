using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;

namespace Tokenflow.Redis.Tests;

/// <summary>One parsed SSE event as a client sees it.</summary>
internal sealed record SseEvent(string EventType, string? Id, string Data)
{
    public JsonElement Json => JsonDocument.Parse(Data).RootElement;

    /// <summary>The content text of a chat chunk (empty when none).</summary>
    public string Text
    {
        get
        {
            if (Data == "[DONE]" || EventType != "message")
            {
                return string.Empty;
            }

            var choices = Json.GetProperty("choices");
            return choices.GetArrayLength() > 0 && choices[0].TryGetProperty("delta", out var delta) && delta.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String
                ? content.GetString()!
                : string.Empty;
        }
    }

    /// <summary>The finish reason of a chat chunk, or null.</summary>
    public string? FinishReason
        => Data != "[DONE]" && EventType == "message" && Json.GetProperty("choices") is { } choices && choices.GetArrayLength() > 0 && choices[0].TryGetProperty("finish_reason", out var reason) && reason.ValueKind == JsonValueKind.String
            ? reason.GetString()
            : null;

    public static StringContent Body(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    /// <summary>A streaming chat request on the sim model.</summary>
    public static object Chat(int maxTokens, int seed, double tokensPerSecond = 0, bool background = false, int graceMs = 10_000) => new
    {
        model = "sim",
        messages = new[] { new { role = "user", content = "hi" } },
        stream = true,
        max_tokens = maxTokens,
        seed,
        sim_tokens_per_second = tokensPerSecond,
        background,
        resume_grace_ms = graceMs,
        stream_options = new { include_usage = true },
    };

    /// <summary>Reads events of a response until it ends, <paramref name="count"/> events were read, or the deadline passes.</summary>
    public static async Task<List<SseEvent>> ReadAsync(Stream body, int count = int.MaxValue, double timeoutSeconds = 30)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        var events = new List<SseEvent>();
        await foreach (var item in SseParser.Create(body).EnumerateAsync(timeout.Token))
        {
            events.Add(new SseEvent(item.EventType, item.EventId, item.Data));
            if (events.Count == count)
            {
                break;
            }
        }

        return events;
    }
}
