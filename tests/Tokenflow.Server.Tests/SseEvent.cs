using System.Net.ServerSentEvents;
using System.Text.Json;

namespace Tokenflow.Server.Tests;

/// <summary>One parsed SSE event as a client sees it.</summary>
internal sealed record SseEvent(string EventType, string? Id, string Data)
{
    public JsonElement Json => JsonDocument.Parse(Data).RootElement;

    /// <summary>Reads every event of a response with the runtime's SSE parser (comments are skipped by it).</summary>
    public static async Task<List<SseEvent>> ReadAllAsync(Stream body, CancellationToken cancellationToken = default)
    {
        var events = new List<SseEvent>();
        await foreach (var item in SseParser.Create(body).EnumerateAsync(cancellationToken))
        {
            events.Add(new SseEvent(item.EventType, item.EventId, item.Data));
        }

        return events;
    }

    /// <summary>The content text of a chat chunk or text completion chunk (empty when none).</summary>
    public string Text
    {
        get
        {
            if (Data == "[DONE]" || EventType != "message")
            {
                return string.Empty;
            }

            var choices = Json.GetProperty("choices");
            if (choices.GetArrayLength() == 0)
            {
                return string.Empty;
            }

            var choice = choices[0];
            if (choice.TryGetProperty("delta", out var delta))
            {
                return delta.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String ? content.GetString()! : string.Empty;
            }

            return choice.TryGetProperty("text", out var text) ? text.GetString()! : string.Empty;
        }
    }
}
