using System.Net;
using System.Text.Json;
using Tokenflow.Core.Sim;
using Tokenflow.Server.Tests.OpenAi;

namespace Tokenflow.Server.Tests.Streams;

public sealed class RetentionTests
{
    private static object Request(string? retention, int maxTokens = 1200) => new
    {
        model = "sim",
        messages = new[] { new { role = "user", content = "hi" } },
        stream = true,
        max_tokens = maxTokens,
        seed = 5,
        // Paced so the response's reader keeps up: blocks it passed are released as new ones start.
        sim_tokens_per_second = 4000,
        retention,
    };

    [Fact]
    public async Task Retention_none_streams_the_whole_text_then_refuses_a_replay_from_the_start_with_410_not_retained()
    {
        await using var server = await TestServer.StartAsync();
        var (response, events) = await ChatCompletionsStreamingTests.StreamAsync(server, Request("none"));
        var id = response.Headers.GetValues("X-Stream-Id").Single();
        Assert.Equal(SimBackend.ExpectedText(5, 1200), string.Concat(events.Select(e => e.Text)));
        Assert.Equal("[DONE]", events[^1].Data);

        using var replay = await server.Client.GetAsync($"/v1/streams/{id}/events?after=0");
        Assert.Equal(HttpStatusCode.Gone, replay.StatusCode);
        var error = JsonDocument.Parse(await replay.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("not_retained", error.GetProperty("code").GetString());
        Assert.Equal("after", error.GetProperty("param").GetString());

        // The end of the stream is still held: a reader at the last event gets the end.
        var lastSeq = events.Where(e => e.Id is not null).Max(e => long.Parse(e.Id!));
        var tail = await SseEvent.ReadAllAsync(await server.Client.GetStreamAsync($"/v1/streams/{id}/events?after={lastSeq}"));
        Assert.Equal("[DONE]", Assert.Single(tail).Data);

        var status = JsonDocument.Parse(await server.Client.GetStringAsync($"/v1/streams/{id}")).RootElement;
        Assert.Equal("completed", status.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Retention_ttl_and_the_default_replay_from_the_start()
    {
        await using var server = await TestServer.StartAsync();
        foreach (var retention in new[] { "ttl", null })
        {
            var (response, events) = await ChatCompletionsStreamingTests.StreamAsync(server, Request(retention, 600));
            var id = response.Headers.GetValues("X-Stream-Id").Single();
            var replay = await SseEvent.ReadAllAsync(await server.Client.GetStreamAsync($"/v1/streams/{id}/events?after=0"));
            Assert.Equal(events.Select(e => (e.Id, e.Data)), replay.Select(e => (e.Id, e.Data)));
        }
    }

    [Fact]
    public async Task An_unknown_retention_is_a_400_naming_the_field()
    {
        await using var server = await TestServer.StartAsync();
        using var response = await server.Client.PostAsync("/v1/chat/completions", ChatCompletionsStreamingTests.Body(Request("forever")));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("retention", error.GetProperty("param").GetString());
    }
}
