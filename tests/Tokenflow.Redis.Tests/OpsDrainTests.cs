using System.Net;
using System.Text.Json;

namespace Tokenflow.Redis.Tests;

/// <summary>Graceful drain on SIGTERM, on real server processes.</summary>
public sealed class OpsDrainTests
{
    private static async Task<(HttpResponseMessage Response, string Id, Stream Body)> StartAsync(ServerProcess server, object request)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = SseEvent.Body(request) };
        var response = await server.Client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (response, response.Headers.GetValues("X-Stream-Id").Single(), await response.Content.ReadAsStreamAsync());
    }

    private static void AssertShutdownError(List<SseEvent> events)
    {
        var error = Assert.Single(events, e => e.EventType == "error");
        Assert.Same(error, events[^1]);
        Assert.Equal("server_shutdown", error.Json.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task SIGTERM_ends_a_stream_still_running_after_the_drain_timeout_with_server_shutdown()
    {
        await using var server = await ServerProcess.StartAsync("memory", "--Tokenflow:DrainTimeout", "00:00:00.300");
        var (response, _, body) = await StartAsync(server, SseEvent.Chat(1_000_000, 3, tokensPerSecond: 50));
        using var _ = response;
        Assert.Equal(2, (await SseEvent.ReadAsync(body, count: 2)).Count);

        server.Terminate();
        var rest = await SseEvent.ReadAsync(body, timeoutSeconds: 60);

        AssertShutdownError(rest);
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task SIGTERM_lets_running_generations_finish_and_refuses_new_ones_with_503()
    {
        await using var server = await ServerProcess.StartAsync("memory", "--Tokenflow:DrainTimeout", "00:02:00");
        // 1,500 tokens at 150/s: ~10 s to go, time enough to see new requests refused while it finishes.
        var (response, _, body) = await StartAsync(server, SseEvent.Chat(1500, 4, tokensPerSecond: 150));
        using var _ = response;
        Assert.Equal(2, (await SseEvent.ReadAsync(body, count: 2)).Count);
        var rest = SseEvent.ReadAsync(body, timeoutSeconds: 90);

        server.Terminate();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(8);
        HttpStatusCode status;
        string text;
        do
        {
            using var refused = await server.Client.PostAsync("/v1/chat/completions", SseEvent.Body(new { model = "sim", messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 1 }));
            status = refused.StatusCode;
            text = await refused.Content.ReadAsStringAsync();
        }
        while (status == HttpStatusCode.OK && DateTime.UtcNow < deadline);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("overloaded", JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("code").GetString());

        // The generation ran to its end: every token, a normal finish, [DONE].
        var events = await rest;
        Assert.Equal("[DONE]", events[^1].Data);
        Assert.Equal(1500, events[^2].Json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Contains(events, e => e.FinishReason == "length");
        Assert.DoesNotContain(events, e => e.EventType == "error");
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task With_Redis_a_reader_on_another_process_gets_the_terminal_event_when_the_generating_process_is_stopped()
    {
        var redis = await RedisServer.Shared;
        await using var a = await ServerProcess.StartAsync(redis.Configuration, "--Tokenflow:DrainTimeout", "00:00:00.300");
        await using var b = await ServerProcess.StartAsync(redis.Configuration);
        var (response, id, body) = await StartAsync(a, SseEvent.Chat(1_000_000, 5, tokensPerSecond: 50));
        using var _ = response;
        Assert.Equal(2, (await SseEvent.ReadAsync(body, count: 2)).Count);

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/streams/{id}/events?after=1");
        using var onB = await b.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, onB.StatusCode);
        var onBBody = await onB.Content.ReadAsStreamAsync();
        Assert.Single(await SseEvent.ReadAsync(onBBody, count: 1));

        a.Terminate();
        var fromB = await SseEvent.ReadAsync(onBBody, timeoutSeconds: 60);
        AssertShutdownError(fromB);
        Assert.Equal(0, await a.WaitForExitAsync(TimeSpan.FromSeconds(60)));

        // The stream's status, read through B, says it failed.
        var status = JsonDocument.Parse(await b.Client.GetStringAsync($"/v1/streams/{id}")).RootElement;
        Assert.Equal("failed", status.GetProperty("status").GetString());
    }
}
