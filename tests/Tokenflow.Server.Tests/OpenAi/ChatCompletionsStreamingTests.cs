using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Tokenflow.Core.Sim;
using Tokenflow.Core.Streams;

namespace Tokenflow.Server.Tests.OpenAi;

public sealed class ChatCompletionsStreamingTests
{
    internal static StringContent Body(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    internal static async Task<(HttpResponseMessage Response, List<SseEvent> Events)> StreamAsync(TestServer server, object body, string path = "/v1/chat/completions")
    {
        var response = await server.Client.PostAsync(path, Body(body));
        var events = await SseEvent.ReadAllAsync(await response.Content.ReadAsStreamAsync());
        return (response, events);
    }

    [Fact]
    public async Task Streaming_response_numbers_events_and_ends_with_done()
    {
        await using var server = await TestServer.StartAsync();
        var (response, events) = await StreamAsync(server, new { model = "sim", messages = new[] { new { role = "user", content = "hi" } }, stream = true, max_tokens = 12, seed = 7 });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains("no-cache", response.Headers.CacheControl!.ToString());
        Assert.Equal("no", response.Headers.GetValues("X-Accel-Buffering").Single());
        var streamId = response.Headers.GetValues("X-Stream-Id").Single();
        Assert.StartsWith("chatcmpl-", streamId);
        Assert.Equal(9 + StreamIds.RandomLength, streamId.Length);

        Assert.Equal("[DONE]", events[^1].Data);
        var chunks = events[..^1];
        Assert.Equal(Enumerable.Range(1, chunks.Count).Select(i => i.ToString()), chunks.Select(e => e.Id));
        Assert.All(chunks, c =>
        {
            Assert.Equal(streamId, c.Json.GetProperty("id").GetString());
            Assert.Equal("chat.completion.chunk", c.Json.GetProperty("object").GetString());
            Assert.Equal("sim", c.Json.GetProperty("model").GetString());
        });
        Assert.Equal("assistant", chunks[0].Json.GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        Assert.Equal("length", chunks[^1].Json.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.All(chunks[..^1], c => Assert.Equal(JsonValueKind.Null, c.Json.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind));
        Assert.Equal(SimBackend.ExpectedText(7, 12), string.Concat(chunks.Select(c => c.Text)));
    }

    [Fact]
    public async Task Include_usage_sends_usage_in_the_last_chunk_before_done()
    {
        await using var server = await TestServer.StartAsync();
        var (_, events) = await StreamAsync(server, new { model = "sim", messages = new[] { new { role = "user", content = "count my words please" } }, stream = true, max_tokens = 9, seed = 1, stream_options = new { include_usage = true } });

        var last = events[^2].Json;
        Assert.Equal(0, last.GetProperty("choices").GetArrayLength());
        var usage = last.GetProperty("usage");
        Assert.Equal(9, usage.GetProperty("completion_tokens").GetInt32());
        Assert.True(usage.GetProperty("prompt_tokens").GetInt32() > 0);
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32() + 9, usage.GetProperty("total_tokens").GetInt32());
        Assert.True(last.GetProperty("timings").GetProperty("ttft_ms").GetDouble() >= 0);
        Assert.All(events[..^2], e => Assert.False(e.Json.TryGetProperty("usage", out _)));
    }

    [Fact]
    public async Task Stream_and_non_stream_give_the_same_text_for_the_same_seed()
    {
        await using var server = await TestServer.StartAsync();
        var request = new { model = "sim", messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 50, seed = 42 };
        var (_, events) = await StreamAsync(server, new { request.model, request.messages, request.max_tokens, request.seed, stream = true });
        var streamed = string.Concat(events.Select(e => e.Text));

        var whole = await server.Client.PostAsync("/v1/chat/completions", Body(request));
        var json = await whole.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
        Assert.Equal("chat.completion", json.GetProperty("object").GetString());
        var message = json.GetProperty("choices")[0].GetProperty("message");
        Assert.Equal("assistant", message.GetProperty("role").GetString());
        Assert.Equal(streamed, message.GetProperty("content").GetString());
        Assert.Equal("length", json.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(50, json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Characters_split_across_token_pieces_arrive_whole()
    {
        await using var server = await TestServer.StartAsync();

        // 400 sim tokens contain many words whose first non-ASCII character is split over two pieces.
        var (_, events) = await StreamAsync(server, new { model = "sim", messages = new[] { new { role = "user", content = "hi" } }, stream = true, max_tokens = 400, seed = 5 });
        var deltas = events.Select(e => e.Text).Where(t => t.Length > 0).ToList();
        var text = string.Concat(deltas);

        Assert.Equal(SimBackend.ExpectedText(5, 400), text);
        Assert.Contains(deltas, d => d.Any(c => c > 0x7F));
        Assert.DoesNotContain('\uFFFD', text.TrimEnd('\uFFFD'));
        Assert.All(deltas, d => Assert.False(char.IsLowSurrogate(d[0]) || char.IsHighSurrogate(d[^1]), "a delta splits a character"));
    }

    [Fact]
    public async Task A_stop_sequence_spanning_tokens_ends_the_text_before_it()
    {
        await using var server = await TestServer.StartAsync();
        var baseRequest = new { model = "sim", messages = new[] { new { role = "user", content = "hi" } }, stream = true, max_tokens = 60, seed = 11 };
        var (_, events) = await StreamAsync(server, baseRequest);
        var deltas = events.Select(e => e.Text).Where(t => t.Length > 0).ToList();
        var full = string.Concat(deltas);

        // The stop starts inside one token and ends inside the next.
        var k = Enumerable.Range(3, deltas.Count - 4).First(i => deltas[i].Length >= 3 && deltas[i + 1].Length >= 3);
        var stop = deltas[k][^2..] + deltas[k + 1][..2];
        var expected = full[..full.IndexOf(stop, StringComparison.Ordinal)];

        var (_, stopped) = await StreamAsync(server, new { baseRequest.model, baseRequest.messages, baseRequest.stream, baseRequest.max_tokens, baseRequest.seed, stop = new[] { "\u0001never", stop } });
        Assert.Equal(expected, string.Concat(stopped.Select(e => e.Text)));
        Assert.Equal("stop", stopped[^2].Json.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.DoesNotContain(stopped, e => e.Text.Contains(stop[..1] + stop[1..], StringComparison.Ordinal));
    }

    [Fact]
    public async Task Completions_endpoint_streams_text_completion_chunks()
    {
        await using var server = await TestServer.StartAsync();
        var (response, events) = await StreamAsync(server, new { model = "sim", prompt = "Once upon", stream = true, max_tokens = 8, seed = 3, stream_options = new { include_usage = true } }, "/v1/completions");

        Assert.StartsWith("cmpl-", response.Headers.GetValues("X-Stream-Id").Single());
        Assert.All(events[..^1], e => Assert.Equal("text_completion", e.Json.GetProperty("object").GetString()));
        Assert.Equal(SimBackend.ExpectedText(3, 8), string.Concat(events.Select(e => e.Text)));
        Assert.Equal(8, events[^2].Json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal("length", events[^3].Json.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task Heartbeat_comments_fill_silence_before_the_first_token()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:HeartbeatInterval", "00:00:00.150"]);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = Body(new { model = "sim", messages = new[] { new { role = "user", content = "hi" } }, stream = true, max_tokens = 2, sim_ttft_ms = 20_000 }),
        };
        using var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var firstLine = await reader.ReadLineAsync();
        Assert.Equal(": ping", firstLine);
    }
}
