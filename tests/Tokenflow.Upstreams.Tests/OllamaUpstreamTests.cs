using System.Net;
using Tokenflow.Core.Streams;

namespace Tokenflow.Upstreams.Tests;

public sealed class OllamaUpstreamTests
{
    [Fact]
    public async Task NDJSON_content_thinking_and_whole_tool_calls_stream_with_eval_counts_as_usage()
    {
        var stream = Recorded.OllamaLine("", thinking: "Hmm, ")
            + Recorded.OllamaLine("", thinking: "weather.")
            + Recorded.OllamaLine("Checking ")
            + Recorded.OllamaLine("Zürich…")
            + """{"model":"llama3.2","created_at":"2025-05-01T10:00:00.500Z","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Zürich","days":2}}}]},"done":false}""" + "\n"
            + Recorded.OllamaDone(26, 290);
        await using var fake = await FakeUpstream.StartAsync(c =>
        {
            c.Response.ContentType = "application/x-ndjson";
            return FakeUpstream.WriteSplitAsync(c, stream, split: 3);
        });
        await using var server = await TestServer.StartAsync(Gateway.Upstream("local", "ollama", fake.Address.ToString(), "--Tokenflow:Upstreams:local:Models:0", "llama3.2"));

        using var response = await Gateway.PostAsync(server, Gateway.Chat("llama3.2", maxTokens: 100));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = await Gateway.ReadEventsAsync(response);
        Assert.Equal("tool_calls", Gateway.FinishReason(events));
        var usage = Gateway.Usage(events);
        Assert.Equal(26, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(290, usage.GetProperty("completion_tokens").GetInt32());

        var log = await Gateway.LogAsync(server, response.Headers.GetValues("X-Stream-Id").Single());
        Assert.Equal("Checking Zürich…", Gateway.Channel(log, DeltaChannel.Content));
        Assert.Equal("Hmm, weather.", Gateway.Channel(log, DeltaChannel.Reasoning));
        var start = Assert.Single(log, e => e.ToolCallId is not null);
        Assert.Equal("get_weather", start.ToolName);
        Assert.Equal("""{"city":"Zürich","days":2}""", Gateway.Channel(log, DeltaChannel.ToolCall, 0));

        var sent = fake.Requests.Single();
        Assert.Equal("/api/chat", sent.Path);
        Assert.Equal("llama3.2", sent.Body!.Value.GetProperty("model").GetString());
        Assert.Equal(100, sent.Body!.Value.GetProperty("options").GetProperty("num_predict").GetInt32());
    }

    [Fact]
    public async Task An_error_line_before_any_token_is_the_response_status()
    {
        await using var fake = await FakeUpstream.StartAsync(async c =>
        {
            c.Response.StatusCode = 404;
            await FakeUpstream.WriteSplitAsync(c, """{"error":"model \"nope\" not found, try pulling it first"}""");
        });
        await using var server = await TestServer.StartAsync(Gateway.Upstream("local", "ollama", fake.Address.ToString()));

        using var response = await Gateway.PostAsync(server, Gateway.Chat("local/nope"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("try pulling it first", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_stream_that_ends_without_done_is_an_error_not_a_complete_answer()
    {
        await using var fake = await FakeUpstream.StartAsync(c => FakeUpstream.WriteSplitAsync(c, Recorded.OllamaLine("Half") + Recorded.OllamaLine(" an answer")));
        await using var server = await TestServer.StartAsync(Gateway.Upstream("local", "ollama", fake.Address.ToString()));

        using var response = await Gateway.PostAsync(server, Gateway.Chat("local/llama3.2"));
        var events = await Gateway.ReadEventsAsync(response);

        Assert.Equal("Half an answer", Gateway.Content(events));
        Assert.Equal("error", events[^1].EventType);
        Assert.Contains("upstream_incomplete", events[^1].Data);
    }
}
