using System.Net;
using StackExchange.Redis;
using static Tokenflow.Redis.Tests.DurableHttp;

namespace Tokenflow.Redis.Tests;

/// <summary>Client-created Durable Streams on the Redis store, used through two real server processes.</summary>
public sealed class DurableScaleOutTests(ScaleOutFixture fixture) : IClassFixture<ScaleOutFixture>
{
    private static string NewPath() => "scale/" + Guid.NewGuid().ToString("N");

    [Fact]
    public async Task Appends_from_both_processes_form_one_stream_that_either_reads()
    {
        var path = NewPath();
        using (var created = await SendAsync(fixture.A, HttpMethod.Put, path, "[]"))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        for (var i = 0; i < 6; i++)
        {
            using var appended = await SendAsync(i % 2 == 0 ? fixture.A : fixture.B, HttpMethod.Post, path, $"{{\"n\":{i}}}");
            Assert.Equal(HttpStatusCode.NoContent, appended.StatusCode);
        }

        using var onA = await SendAsync(fixture.A, HttpMethod.Get, path + "?offset=-1");
        using var onB = await SendAsync(fixture.B, HttpMethod.Get, path + "?offset=-1");
        var text = await onA.Content.ReadAsStringAsync();
        Assert.Equal("[{\"n\":0},{\"n\":1},{\"n\":2},{\"n\":3},{\"n\":4},{\"n\":5}]", text);
        Assert.Equal(text, await onB.Content.ReadAsStringAsync());
        Assert.Equal(onA.Headers.GetValues("Stream-Next-Offset").Single(), onB.Headers.GetValues("Stream-Next-Offset").Single());
    }

    [Fact]
    public async Task An_idempotent_producer_is_fenced_and_deduplicated_across_processes()
    {
        var path = NewPath();
        (await SendAsync(fixture.A, HttpMethod.Put, path, contentType: "text/plain")).Dispose();

        using (var first = await SendAsync(fixture.A, HttpMethod.Post, path, "a", "text/plain", ("Producer-Id", "p"), ("Producer-Epoch", "0"), ("Producer-Seq", "0")))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        // The same batch retried through the other process is a duplicate, not a second copy.
        using (var retry = await SendAsync(fixture.B, HttpMethod.Post, path, "a", "text/plain", ("Producer-Id", "p"), ("Producer-Epoch", "0"), ("Producer-Seq", "0")))
        {
            Assert.Equal(HttpStatusCode.NoContent, retry.StatusCode);
        }

        // A new epoch on B fences the old one on A.
        using (var bumped = await SendAsync(fixture.B, HttpMethod.Post, path, "b", "text/plain", ("Producer-Id", "p"), ("Producer-Epoch", "1"), ("Producer-Seq", "0")))
        {
            Assert.Equal(HttpStatusCode.OK, bumped.StatusCode);
        }

        using (var zombie = await SendAsync(fixture.A, HttpMethod.Post, path, "z", "text/plain", ("Producer-Id", "p"), ("Producer-Epoch", "0"), ("Producer-Seq", "1")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, zombie.StatusCode);
            Assert.Equal("1", zombie.Headers.GetValues("Producer-Epoch").Single());
        }

        using var read = await SendAsync(fixture.B, HttpMethod.Get, path + "?offset=-1");
        Assert.Equal("ab", await read.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_long_poll_on_one_process_wakes_for_an_append_on_the_other()
    {
        var path = NewPath();
        using (var created = await SendAsync(fixture.B, HttpMethod.Put, path, contentType: "text/plain"))
        {
            var tail = created.Headers.GetValues("Stream-Next-Offset").Single();
            var poll = SendAsync(fixture.A, HttpMethod.Get, $"{path}?offset={tail}&live=long-poll");
            // The poll is parked on A before the append: A answers nothing until B appends.
            await Task.Delay(300);
            Assert.False(poll.IsCompleted);
            (await SendAsync(fixture.B, HttpMethod.Post, path, "hello", "text/plain")).Dispose();

            using var response = await poll;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("hello", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task An_SSE_tail_on_one_process_follows_appends_and_closure_on_the_other()
    {
        var path = NewPath();
        (await SendAsync(fixture.A, HttpMethod.Put, path, "[]")).Dispose();
        using var sse = await SendAsync(fixture.B, HttpMethod.Get, path + "?offset=-1&live=sse");
        Assert.Equal(HttpStatusCode.OK, sse.StatusCode);
        var body = sse.Content.ReadAsStringAsync();
        for (var i = 0; i < 20; i++)
        {
            (await SendAsync(fixture.A, HttpMethod.Post, path, $"{i}")).Dispose();
        }

        (await SendAsync(fixture.A, HttpMethod.Post, path, null, headers: ("Stream-Closed", "true"))).Dispose();
        var text = await body.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(Enumerable.Range(0, 20), SseNumbers(text));
        Assert.Contains("\"streamClosed\":true", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Delete_on_one_process_is_seen_by_the_other_and_forks_keep_a_source_alive()
    {
        var source = NewPath();
        var fork = NewPath();
        (await SendAsync(fixture.A, HttpMethod.Put, source, "abc", "text/plain")).Dispose();
        using (var forked = await SendAsync(fixture.B, HttpMethod.Put, fork, null, "text/plain", ("Stream-Forked-From", "/v1/durable/" + source)))
        {
            Assert.Equal(HttpStatusCode.Created, forked.StatusCode);
        }

        using (var deleted = await SendAsync(fixture.B, HttpMethod.Delete, source))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        using (var gone = await SendAsync(fixture.A, HttpMethod.Get, source + "?offset=-1"))
        {
            Assert.Equal(HttpStatusCode.Gone, gone.StatusCode);
        }

        using (var read = await SendAsync(fixture.A, HttpMethod.Get, fork + "?offset=-1"))
        {
            Assert.Equal("abc", await read.Content.ReadAsStringAsync());
        }

        (await SendAsync(fixture.A, HttpMethod.Delete, fork)).Dispose();
        using var afterLastFork = await SendAsync(fixture.B, HttpMethod.Get, source + "?offset=-1");
        Assert.Equal(HttpStatusCode.NotFound, afterLastFork.StatusCode);
    }

    [Fact]
    public async Task An_expired_stream_nobody_reads_is_swept_from_Redis()
    {
        var path = NewPath();
        // 3 s, not 1: on a loaded machine a 1 s stream could be swept before the check below that it was stored.
        (await SendAsync(fixture.A, HttpMethod.Put, path, "x", "text/plain", ("Stream-TTL", "3"))).Dispose();
        var redis = await ConnectionMultiplexer.ConnectAsync(fixture.Redis.Configuration);
        await using var _ = redis;
        var meta = (RedisKey)$"tokenflow:d:{{@{path}}}:m";
        Assert.True(await redis.GetDatabase().KeyExistsAsync(meta));

        // No request touches the stream again: the processes' sweep retires it (every 5 s).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (await redis.GetDatabase().KeyExistsAsync(meta) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        Assert.False(await redis.GetDatabase().KeyExistsAsync(meta));
        Assert.False(await redis.GetDatabase().KeyExistsAsync($"tokenflow:d:{{@{path}}}:d"));
    }

    [Fact]
    public async Task Live_readers_are_woken_by_pub_sub_alone()
    {
        // C never polls Redis on its own (PollInterval one hour): only the notifications of A's appends can wake it.
        await using var c = await ServerProcess.StartAsync(fixture.Redis.Configuration, "--Tokenflow:Redis:PollInterval", "01:00:00");
        var path = NewPath();
        string tail;
        using (var created = await SendAsync(fixture.A, HttpMethod.Put, path, "[]"))
        {
            tail = created.Headers.GetValues("Stream-Next-Offset").Single();
        }

        var poll = SendAsync(c, HttpMethod.Get, $"{path}?offset={tail}&live=long-poll");
        var tailers = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => SendAsync(c, HttpMethod.Get, path + "?offset=-1&live=sse")));
        (await SendAsync(fixture.A, HttpMethod.Post, path, "0")).Dispose();
        using (var polled = await poll)
        {
            // 204 would mean the long-poll timed out (3 s) without being woken.
            Assert.Equal(HttpStatusCode.OK, polled.StatusCode);
            Assert.Equal("[0]", await polled.Content.ReadAsStringAsync());
        }

        // Each SSE round of each tailer leaves the stream's watch and joins it again; none may miss an append.
        var bodies = tailers.Select(t => t.Content.ReadAsStringAsync()).ToList();
        for (var i = 1; i < 50; i++)
        {
            (await SendAsync(fixture.A, HttpMethod.Post, path, $"{i}")).Dispose();
        }

        (await SendAsync(fixture.A, HttpMethod.Post, path, null, headers: ("Stream-Closed", "true"))).Dispose();
        foreach (var body in bodies)
        {
            Assert.Equal(Enumerable.Range(0, 50), SseNumbers(await body.WaitAsync(TimeSpan.FromSeconds(30))));
        }

        foreach (var tailer in tailers)
        {
            tailer.Dispose();
        }
    }
}
