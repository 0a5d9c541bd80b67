using System.Net;
using System.Net.ServerSentEvents;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Tokenflow.Upstreams.Tests;

public sealed class FailoverTests
{
    private static Task RateLimited(HttpContext c, string retryAfter = "7")
    {
        c.Response.StatusCode = 429;
        c.Response.Headers.RetryAfter = retryAfter;
        c.Response.ContentType = "application/json";
        return c.Response.WriteAsync("""{"error":{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}}""");
    }

    private static string[] Pair(FakeUpstream first, FakeUpstream second, params string[] more)
        => [.. Gateway.Upstream("b", "openai", second.V1, "--Tokenflow:Upstreams:b:Models:0", "gpt-*", "--Tokenflow:Upstreams:b:Priority", "1"),
            .. Gateway.Upstream("a", "openai", first.V1, "--Tokenflow:Upstreams:a:Models:0", "gpt-*"), .. more];

    [Fact]
    public async Task A_429_before_the_first_token_fails_over_to_the_next_upstream_by_priority()
    {
        await using var first = await FakeUpstream.StartAsync(c => RateLimited(c));
        await using var second = await FakeUpstream.StartAsync(c => FakeUpstream.SseAsync(c, Recorded.OpenAiText(["from ", "b"], 3, 2)));
        await using var server = await TestServer.StartAsync(Pair(first, second));

        using var response = await Gateway.PostAsync(server, Gateway.Chat("gpt-4o"));
        var events = await Gateway.ReadEventsAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("from b", Gateway.Content(events));
        Assert.Single(first.Requests);
        Assert.Equal("gpt-4o", second.Requests.Single().Body!.Value.GetProperty("model").GetString());
    }

    [Fact]
    public async Task A_5xx_and_a_refused_connection_fail_over()
    {
        await using var broken = await FakeUpstream.StartAsync(c => { c.Response.StatusCode = 503; return Task.CompletedTask; });
        await using var good = await FakeUpstream.StartAsync(c => FakeUpstream.SseAsync(c, Recorded.OpenAiText(["ok"], 1, 1)));
        var closed = $"http://127.0.0.1:{FreePort()}/v1";
        await using var server = await TestServer.StartAsync([
            .. Gateway.Upstream("dead", "openai", closed, "--Tokenflow:Upstreams:dead:Models:0", "m"),
            .. Gateway.Upstream("broken", "openai", broken.V1, "--Tokenflow:Upstreams:broken:Models:0", "m"),
            .. Gateway.Upstream("good", "openai", good.V1, "--Tokenflow:Upstreams:good:Models:0", "m")]);

        using var response = await Gateway.PostAsync(server, Gateway.Chat("m"));

        Assert.Equal("ok", Gateway.Content(await Gateway.ReadEventsAsync(response)));
        Assert.Single(broken.Requests);
    }

    [Fact]
    public async Task No_first_token_within_the_ttft_timeout_aborts_that_upstream_and_fails_over()
    {
        await using var slow = await FakeUpstream.StartAsync(async c =>
        {
            c.Response.ContentType = "text/event-stream";
            await c.Response.Body.FlushAsync();
            await Task.Delay(Timeout.Infinite, c.RequestAborted);
        });
        await using var fast = await FakeUpstream.StartAsync(c => FakeUpstream.SseAsync(c, Recorded.OpenAiText(["fast"], 1, 1)));
        await using var server = await TestServer.StartAsync(Pair(slow, fast, "--Tokenflow:Upstreams:a:TtftTimeout", "00:00:00.300"));

        using var response = await Gateway.PostAsync(server, Gateway.Chat("gpt-4o"));

        Assert.Equal("fast", Gateway.Content(await Gateway.ReadEventsAsync(response)));
        await Gateway.WithTimeout(slow.Aborted.Task, "the slow upstream's request to be aborted");
    }

    [Fact]
    public async Task When_every_upstream_fails_the_client_gets_the_last_ones_status_and_retry_after()
    {
        await using var first = await FakeUpstream.StartAsync(c => { c.Response.StatusCode = 500; return Task.CompletedTask; });
        await using var second = await FakeUpstream.StartAsync(c => RateLimited(c, "7"));
        await using var server = await TestServer.StartAsync(Pair(first, second));

        foreach (var stream in new[] { true, false })
        {
            using var response = await Gateway.PostAsync(server, Gateway.Chat("gpt-4o", stream));
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter?.Delta);
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
            Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
            Assert.Equal("Rate limit reached for requests", error.GetProperty("message").GetString());
        }
    }

    [Fact]
    public async Task A_client_error_is_passed_on_without_failover()
    {
        await using var first = await FakeUpstream.StartAsync(async c =>
        {
            c.Response.StatusCode = 400;
            await c.Response.WriteAsync("""{"error":{"message":"Invalid 'messages[0].content'","type":"invalid_request_error","param":"messages","code":null}}""");
        });
        await using var second = await FakeUpstream.StartAsync(c => FakeUpstream.SseAsync(c, Recorded.OpenAiText(["never"], 1, 1)));
        await using var server = await TestServer.StartAsync(Pair(first, second));

        using var response = await Gateway.PostAsync(server, Gateway.Chat("gpt-4o"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("Invalid 'messages[0].content'", await response.Content.ReadAsStringAsync());
        Assert.Empty(second.Requests);
    }

    [Fact]
    public async Task Only_unreachable_upstreams_give_502_and_only_slow_ones_504()
    {
        await using var slow = await FakeUpstream.StartAsync(c => Task.Delay(Timeout.Infinite, c.RequestAborted));
        await using var server = await TestServer.StartAsync([
            .. Gateway.Upstream("dead", "openai", $"http://127.0.0.1:{FreePort()}/v1"),
            .. Gateway.Upstream("slow", "openai", slow.V1, "--Tokenflow:Upstreams:slow:TtftTimeout", "00:00:00.200")]);

        using var dead = await Gateway.PostAsync(server, Gateway.Chat("dead/m"));
        Assert.Equal(HttpStatusCode.BadGateway, dead.StatusCode);
        Assert.Contains("upstream_unavailable", await dead.Content.ReadAsStringAsync());

        using var timeout = await Gateway.PostAsync(server, Gateway.Chat("slow/m", stream: false));
        Assert.Equal(HttpStatusCode.GatewayTimeout, timeout.StatusCode);
        Assert.Contains("upstream_timeout", await timeout.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_connection_reset_after_some_tokens_is_a_terminal_error_event_not_a_complete_stream()
    {
        var received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var fake = await FakeUpstream.StartAsync(async c =>
        {
            c.Response.ContentType = "text/event-stream";
            await FakeUpstream.WriteSplitAsync(c, Recorded.OpenAiChunk("""{"content":"one "}""") + Recorded.OpenAiChunk("""{"content":"two "}""") + Recorded.OpenAiChunk("""{"content":"three"}"""));
            // Reset only once the client has the tokens, so none is lost in flight with the reset.
            await received.Task.WaitAsync(Gateway.Timeout);
            c.Abort();
        });
        await using var server = await TestServer.StartAsync(Gateway.Upstream("fake", "openai", fake.V1));

        using var response = await Gateway.PostAsync(server, Gateway.Chat("fake/m"));
        var events = await ReadReleasingAsync(response, "one two three", received);

        Assert.Equal("one two three", Gateway.Content(events));
        Assert.Equal("error", events[^1].EventType);
        Assert.Equal("upstream_disconnected", JsonDocument.Parse(events[^1].Data).RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.DoesNotContain(events, e => e.Data == "[DONE]");
        var log = await Gateway.LogAsync(server, response.Headers.GetValues("X-Stream-Id").Single());
        Assert.Equal(3, log[^1].Usage.CompletionTokens);
    }

    [Fact]
    public async Task A_reset_after_the_first_token_does_not_fail_over()
    {
        var received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var first = await FakeUpstream.StartAsync(async c =>
        {
            await FakeUpstream.SseAsync(c, Recorded.OpenAiChunk("""{"content":"started"}"""));
            await received.Task.WaitAsync(Gateway.Timeout);
            c.Abort();
        });
        await using var second = await FakeUpstream.StartAsync(c => FakeUpstream.SseAsync(c, Recorded.OpenAiText(["never"], 1, 1)));
        await using var server = await TestServer.StartAsync(Pair(first, second));

        using var response = await Gateway.PostAsync(server, Gateway.Chat("gpt-4o"));
        var events = await ReadReleasingAsync(response, "started", received);

        Assert.Equal("started", Gateway.Content(events));
        Assert.Equal("error", events[^1].EventType);
        Assert.Empty(second.Requests);
    }

    /// <summary>Reads the whole event stream, completing <paramref name="release"/> once <paramref name="content"/> has arrived.</summary>
    private static async Task<List<SseItem<string>>> ReadReleasingAsync(HttpResponseMessage response, string content, TaskCompletionSource release)
    {
        using var cts = new CancellationTokenSource(Gateway.Timeout);
        var events = new List<SseItem<string>>();
        await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync(cts.Token)).EnumerateAsync(cts.Token))
        {
            events.Add(item);
            if (Gateway.Content(events) == content)
            {
                release.TrySetResult();
            }
        }

        return events;
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
