using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using Tokenflow.Core.Streams;

namespace Tokenflow.Upstreams.Tests;

/// <summary>Helpers for driving a real Tokenflow server (the gateway) in front of fake upstreams.</summary>
internal static class Gateway
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>Configuration arguments for one upstream.</summary>
    public static string[] Upstream(string name, string kind, string url, params string[] more)
        => [$"--Tokenflow:Upstreams:{name}:Kind", kind, $"--Tokenflow:Upstreams:{name}:Url", url, .. more];

    public static object Chat(string model, bool stream = true, int? maxTokens = null, object? extra = null)
        => new Dictionary<string, object?>
        {
            ["model"] = model,
            ["messages"] = new[] { new { role = "user", content = "Hello" } },
            ["stream"] = stream,
            ["max_tokens"] = maxTokens,
            ["stream_options"] = stream ? new { include_usage = true } : null,
        }.Where(kv => kv.Value is not null).Concat(extra is Dictionary<string, object?> e ? e : []).ToDictionary();

    public static async Task<HttpResponseMessage> PostAsync(TestServer server, object body, string path = "/v1/chat/completions")
    {
        using var cts = new CancellationTokenSource(Timeout);
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        return await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
    }

    /// <summary>Reads every SSE event of a response.</summary>
    public static async Task<List<SseItem<string>>> ReadEventsAsync(HttpResponseMessage response)
    {
        using var cts = new CancellationTokenSource(Timeout);
        var events = new List<SseItem<string>>();
        await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync(cts.Token)).EnumerateAsync(cts.Token))
        {
            events.Add(item);
        }

        return events;
    }

    /// <summary>The content text of chat chunk events, concatenated.</summary>
    public static string Content(IEnumerable<SseItem<string>> events)
    {
        var text = new StringBuilder();
        foreach (var e in events.Where(e => e.EventType == "message" && e.Data != "[DONE]"))
        {
            var choices = JsonDocument.Parse(e.Data).RootElement.GetProperty("choices");
            if (choices.GetArrayLength() > 0 && choices[0].TryGetProperty("delta", out var delta) && delta.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String)
            {
                text.Append(c.GetString());
            }
        }

        return text.ToString();
    }

    public static JsonElement Usage(IEnumerable<SseItem<string>> events)
        => events.Where(e => e.EventType == "message" && e.Data != "[DONE]").Select(e => JsonDocument.Parse(e.Data).RootElement)
            .Last(j => j.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object).GetProperty("usage");

    public static string? FinishReason(IEnumerable<SseItem<string>> events)
        => events.Where(e => e.EventType == "message" && e.Data != "[DONE]").Select(e => JsonDocument.Parse(e.Data).RootElement.GetProperty("choices"))
            .Where(c => c.GetArrayLength() > 0 && c[0].TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String)
            .Select(c => c[0].GetProperty("finish_reason").GetString()).LastOrDefault();

    /// <summary>Every event in the stream log of <paramref name="streamId"/>, read from the gateway's store (what every door renders).</summary>
    public static async Task<List<LoggedEvent>> LogAsync(TestServer server, string streamId)
    {
        using var cts = new CancellationTokenSource(Timeout);
        var (_, reader) = await server.GetService<IStreamStore>().OpenReaderAsync(streamId, 0, cts.Token);
        Assert.NotNull(reader);
        var events = new List<LoggedEvent>();
        await using (reader)
        {
            while (await reader.WaitToReadAsync(cts.Token))
            {
                while (reader.TryRead(out var e))
                {
                    events.Add(new LoggedEvent(e.Kind, e.Channel, e.ToolCallIndex, e.ToolCallId, e.ToolName, Encoding.UTF8.GetString(e.Text.Span), e.FinishReason, e.Usage, e.Error));
                }
            }
        }

        return events;
    }

    public static string Channel(List<LoggedEvent> log, DeltaChannel channel, int toolCall = -1)
        => string.Concat(log.Where(e => e.Kind == StreamEventKind.Delta && e.Channel == channel && (toolCall < 0 || e.ToolCallIndex == toolCall)).Select(e => e.Text));

    public static async Task WithTimeout(Task task, string what)
    {
        var done = await Task.WhenAny(task, Task.Delay(Timeout));
        Assert.True(done == task, $"timed out waiting for {what}");
        await task;
    }
}

internal sealed record LoggedEvent(StreamEventKind Kind, DeltaChannel Channel, int ToolCallIndex, string? ToolCallId, string? ToolName, string Text, FinishReason FinishReason, Usage Usage, StreamError? Error);
