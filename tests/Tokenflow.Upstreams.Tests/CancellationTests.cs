using System.Net.ServerSentEvents;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Tokenflow.Core.Streams;

namespace Tokenflow.Upstreams.Tests;

public sealed class CancellationTests
{
    /// <summary>An upstream that streams one token at a time until its request is aborted.</summary>
    private static async Task Endless(HttpContext c)
    {
        c.Response.ContentType = "text/event-stream";
        for (var i = 0; ; i++)
        {
            await FakeUpstream.WriteSplitAsync(c, Recorded.OpenAiChunk($$"""{"content":"t{{i}} "}"""));
            await Task.Delay(20, c.RequestAborted);
        }
    }

    [Fact]
    public async Task An_explicit_cancel_aborts_the_upstream_request_and_usage_counts_what_was_streamed()
    {
        await using var fake = await FakeUpstream.StartAsync(Endless);
        await using var server = await TestServer.StartAsync(Gateway.Upstream("fake", "openai", fake.V1));

        using var response = await Gateway.PostAsync(server, Gateway.Chat("fake/m"));
        var id = response.Headers.GetValues("X-Stream-Id").Single();
        using var cts = new CancellationTokenSource(Gateway.Timeout);
        var events = new List<SseItem<string>>();
        var cancelled = false;
        await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync(cts.Token)).EnumerateAsync(cts.Token))
        {
            events.Add(item);
            if (!cancelled && events.Count == 5)
            {
                cancelled = true;
                (await server.Client.PostAsync($"/v1/streams/{id}/cancel", null, cts.Token)).EnsureSuccessStatusCode();
            }
        }

        await Gateway.WithTimeout(fake.Aborted.Task, "the upstream to see its request aborted");
        Assert.Equal("cancelled", Gateway.FinishReason(events));
        var log = await Gateway.LogAsync(server, id);
        var deltas = log.Count(e => e.Kind == StreamEventKind.Delta);
        Assert.True(deltas >= 5);
        Assert.Equal(deltas, log[^1].Usage.CompletionTokens);
    }

    [Fact]
    public async Task The_last_reader_leaving_aborts_the_upstream_request_after_the_grace_period()
    {
        await using var fake = await FakeUpstream.StartAsync(Endless);
        await using var server = await TestServer.StartAsync(Gateway.Upstream("fake", "openai", fake.V1));

        var body = new Dictionary<string, object?> { ["model"] = "fake/m", ["messages"] = new[] { new { role = "user", content = "hi" } }, ["stream"] = true, ["resume_grace_ms"] = 0 };
        using (var response = await Gateway.PostAsync(server, body))
        {
            using var cts = new CancellationTokenSource(Gateway.Timeout);
            var stream = await response.Content.ReadAsStreamAsync(cts.Token);
            var buffer = new byte[64];
            Assert.True(await stream.ReadAsync(buffer, cts.Token) > 0);
        }

        await Gateway.WithTimeout(fake.Aborted.Task, "the upstream to see its request aborted");
    }
}
