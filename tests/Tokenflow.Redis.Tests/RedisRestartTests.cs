using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Tokenflow.Core.Sim;

namespace Tokenflow.Redis.Tests;

/// <summary>A server survives Redis going away and coming back on the same port.</summary>
public sealed class RedisRestartTests
{
    [Fact]
    public async Task While_Redis_is_down_requests_get_503_and_afterwards_they_work_again()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var server = await ServerProcess.StartAsync(redis.Configuration);

        var before = await server.Client.PostAsync("/v1/chat/completions", SseEvent.Body(SseEvent.Chat(20, 1)));
        Assert.Equal(SimBackend.ExpectedText(1, 20), string.Concat((await SseEvent.ReadAsync(await before.Content.ReadAsStreamAsync())).Select(e => e.Text)));
        var id = before.Headers.GetValues("X-Stream-Id").Single();

        // A generation in flight when Redis dies ends with an error event, not a hang.
        using var running = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = SseEvent.Body(SseEvent.Chat(1_000_000, 2, tokensPerSecond: 50, background: true)) };
        using var response = await server.Client.SendAsync(running, HttpCompletionOption.ResponseHeadersRead);
        var body = await response.Content.ReadAsStreamAsync();
        await SseEvent.ReadAsync(body, count: 2);

        redis.Kill();
        var rest = await SseEvent.ReadAsync(body, timeoutSeconds: 15);
        Assert.Equal("error", rest[^1].EventType);

        var refused = await server.Client.PostAsync("/v1/chat/completions", SseEvent.Body(SseEvent.Chat(5, 1)));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("store_unavailable", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString());
        var status = await server.Client.GetAsync($"/v1/streams/{id}");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status.StatusCode);

        await redis.StartAgainAsync();
        var clock = Stopwatch.StartNew();
        HttpResponseMessage after;
        while (true)
        {
            after = await server.Client.PostAsync("/v1/chat/completions", SseEvent.Body(SseEvent.Chat(30, 4)));
            if (after.StatusCode == HttpStatusCode.OK || clock.Elapsed > TimeSpan.FromSeconds(20))
            {
                break;
            }

            Assert.Equal(HttpStatusCode.ServiceUnavailable, after.StatusCode);
            await Task.Delay(100);
        }

        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal(SimBackend.ExpectedText(4, 30), string.Concat((await SseEvent.ReadAsync(await after.Content.ReadAsStreamAsync())).Select(e => e.Text)));
        var newId = after.Headers.GetValues("X-Stream-Id").Single();
        var replay = await SseEvent.ReadAsync(await server.Client.GetStreamAsync($"/v1/streams/{newId}/events?after=0"));
        Assert.Equal(SimBackend.ExpectedText(4, 30), string.Concat(replay.Select(e => e.Text)));
        Assert.Equal("[DONE]", replay[^1].Data);

        // What Redis lost with its restart is gone, and said so: 404, not a hang.
        Assert.Equal(HttpStatusCode.NotFound, (await server.Client.GetAsync($"/v1/streams/{id}")).StatusCode);
    }
    [Fact]
    public async Task Durable_streams_answer_503_while_Redis_is_down_end_live_reads_and_work_again_after()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var server = await ServerProcess.StartAsync(redis.Configuration);
        static StringContent Text(string text) => new(text, System.Text.Encoding.UTF8, "text/plain");

        Assert.Equal(HttpStatusCode.Created, (await server.Client.PutAsync("/v1/durable/outage/a", Text("x"))).StatusCode);
        using var sse = await server.Client.GetAsync("/v1/durable/outage/a?offset=-1&live=sse", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, sse.StatusCode);
        var tail = new StreamReader(await sse.Content.ReadAsStreamAsync()).ReadToEndAsync();
        var poll = server.Client.GetAsync("/v1/durable/outage/a?offset=0000000000000000_0000000000000001&live=long-poll");

        redis.Kill();
        // A live read waiting on the stream ends (the SSE response is cut, the long-poll answers 503) instead of hanging.
        await Assert.ThrowsAnyAsync<Exception>(() => tail.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await poll.WaitAsync(TimeSpan.FromSeconds(20))).StatusCode);

        var refused = await server.Client.PutAsync("/v1/durable/outage/b", Text("y"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("store_unavailable", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString());

        await redis.StartAgainAsync();
        var clock = Stopwatch.StartNew();
        HttpResponseMessage created;
        while (true)
        {
            created = await server.Client.PutAsync("/v1/durable/outage/b", Text("y"));
            if (created.StatusCode != HttpStatusCode.ServiceUnavailable || clock.Elapsed > TimeSpan.FromSeconds(20))
            {
                break;
            }

            await Task.Delay(100);
        }

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("y", await server.Client.GetStringAsync("/v1/durable/outage/b?offset=-1"));
    }
}
