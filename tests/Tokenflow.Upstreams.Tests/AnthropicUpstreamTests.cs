using System.Net;
using Microsoft.AspNetCore.Http;
using Tokenflow.Core.Streams;

namespace Tokenflow.Upstreams.Tests;

public sealed class AnthropicUpstreamTests
{
    [Fact]
    public async Task Thinking_text_and_tool_use_blocks_become_reasoning_content_and_tool_calls_with_exact_usage()
    {
        var stream = Recorded.AnthropicStart
            + Recorded.Anthropic("content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}""")
            + Recorded.Anthropic("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"The user wants "}}""")
            + Recorded.Anthropic("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"the weather."}}""")
            + Recorded.Anthropic("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}}""")
            + Recorded.AnthropicStop(0)
            + Recorded.Anthropic("content_block_start", """{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}""")
            + Recorded.AnthropicPing
            + Recorded.AnthropicTextDelta(1, "Okay, let me check — ")
            + Recorded.AnthropicTextDelta(1, "東京.")
            + Recorded.AnthropicStop(1)
            + Recorded.Anthropic("content_block_start", """{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}""")
            + Recorded.Anthropic("content_block_delta", """{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}""")
            + Recorded.Anthropic("content_block_delta", """{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"location\": \"San Fra"}}""")
            + Recorded.Anthropic("content_block_delta", """{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"ncisco, CA\"}"}}""")
            + Recorded.AnthropicStop(2)
            + Recorded.AnthropicEnd("tool_use", 89);
        await using var fake = await FakeUpstream.StartAsync(c => FakeUpstream.SseAsync(c, stream, split: 5));
        await using var server = await TestServer.StartAsync(Gateway.Upstream("claude", "anthropic", fake.Address.ToString(),
            "--Tokenflow:Upstreams:claude:ApiKey", "sk-ant-test", "--Tokenflow:Upstreams:claude:Models:0", "claude-*"));

        var body = new Dictionary<string, object?>
        {
            ["model"] = "claude-x",
            ["messages"] = new object[] { new { role = "system", content = "Be brief." }, new { role = "user", content = "Weather?" } },
            ["stream"] = true,
            ["max_tokens"] = 300,
        };
        using var response = await Gateway.PostAsync(server, body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = await Gateway.ReadEventsAsync(response);
        Assert.Equal("tool_calls", Gateway.FinishReason(events));

        var log = await Gateway.LogAsync(server, response.Headers.GetValues("X-Stream-Id").Single());
        Assert.Equal("Okay, let me check — 東京.", Gateway.Channel(log, DeltaChannel.Content));
        Assert.Equal("The user wants the weather.", Gateway.Channel(log, DeltaChannel.Reasoning));
        var start = Assert.Single(log, e => e.ToolCallId is not null);
        Assert.Equal(("toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather", 0), (start.ToolCallId, start.ToolName, start.ToolCallIndex));
        Assert.Equal("""{"location": "San Francisco, CA"}""", Gateway.Channel(log, DeltaChannel.ToolCall, 0));
        Assert.Equal(new Usage(28, 89), log[^1].Usage);

        var sent = fake.Requests.Single();
        Assert.Equal("/v1/messages", sent.Path);
        Assert.Equal("sk-ant-test", sent.Headers["x-api-key"]);
        Assert.Equal("2023-06-01", sent.Headers["anthropic-version"]);
        var json = sent.Body!.Value;
        Assert.Equal("claude-x", json.GetProperty("model").GetString());
        Assert.Equal(300, json.GetProperty("max_tokens").GetInt32());
        Assert.Equal("Be brief.", json.GetProperty("system").GetString());
        Assert.Equal(1, json.GetProperty("messages").GetArrayLength());
    }

    [Fact]
    public async Task An_error_event_after_text_ends_the_stream_with_a_terminal_error_not_done()
    {
        var stream = Recorded.AnthropicStart
            + Recorded.Anthropic("content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}""")
            + Recorded.AnthropicTextDelta(0, "Partial answer")
            + Recorded.Anthropic("error", """{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}""");
        await using var fake = await FakeUpstream.StartAsync(c => FakeUpstream.SseAsync(c, stream));
        await using var server = await TestServer.StartAsync(Gateway.Upstream("claude", "anthropic", fake.Address.ToString()));

        using var response = await Gateway.PostAsync(server, Gateway.Chat("claude/claude-x"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = await Gateway.ReadEventsAsync(response);

        Assert.Equal("Partial answer", Gateway.Content(events));
        var error = events[^1];
        Assert.Equal("error", error.EventType);
        var inner = System.Text.Json.JsonDocument.Parse(error.Data).RootElement.GetProperty("error");
        Assert.Equal("Overloaded", inner.GetProperty("message").GetString());
        Assert.Equal("overloaded", inner.GetProperty("code").GetString());
        Assert.DoesNotContain(events, e => e.Data == "[DONE]");
    }

    [Fact]
    public async Task A_rate_limited_answer_passes_on_status_retry_after_and_the_providers_message()
    {
        await using var fake = await FakeUpstream.StartAsync(async c =>
        {
            c.Response.StatusCode = 429;
            c.Response.Headers.RetryAfter = "12";
            c.Response.ContentType = "application/json";
            await c.Response.WriteAsync("""{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}""");
        });
        await using var server = await TestServer.StartAsync(Gateway.Upstream("claude", "anthropic", fake.Address.ToString()));

        using var response = await Gateway.PostAsync(server, Gateway.Chat("claude/claude-x"));

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(12), response.Headers.RetryAfter?.Delta);
        var error = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("rate_limit_error", error.GetProperty("type").GetString());
        Assert.Contains("per-minute rate limit", error.GetProperty("message").GetString());
    }
}
