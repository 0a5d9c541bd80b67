using System.Net;
using Tokenflow.Core.Streams;

namespace Tokenflow.Upstreams.Tests;

public sealed class OpenAiUpstreamTests
{
    [Fact]
    public async Task Text_split_across_UTF8_bytes_streams_whole_with_the_upstreams_usage_and_the_routed_model_id()
    {
        var pieces = new[] { "Gr", "üße, ", "世界 ", "🚀", " caf\u00e9" };
        await using var fake = await FakeUpstream.StartAsync(c => FakeUpstream.SseAsync(c, Recorded.OpenAiText(pieces, prompt: 9, completion: 12), split: 1));
        Environment.SetEnvironmentVariable("TOKENFLOW_TEST_OPENAI_KEY", "sk-test-123");
        await using var server = await TestServer.StartAsync(Gateway.Upstream("fake", "openai", fake.V1,
            "--Tokenflow:Upstreams:fake:ApiKey", "env:TOKENFLOW_TEST_OPENAI_KEY", "--Tokenflow:Upstreams:fake:Headers:X-Org", "tokenflow"));

        using var response = await Gateway.PostAsync(server, Gateway.Chat("fake/gpt-x", maxTokens: 50));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = await Gateway.ReadEventsAsync(response);

        Assert.Equal(string.Concat(pieces), Gateway.Content(events));
        Assert.Equal("stop", Gateway.FinishReason(events));
        var usage = Gateway.Usage(events);
        Assert.Equal(9, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(12, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal("[DONE]", events[^1].Data);

        var sent = Assert.Single(fake.Requests);
        Assert.Equal("/v1/chat/completions", sent.Path);
        var body = sent.Body!.Value;
        Assert.Equal("gpt-x", body.GetProperty("model").GetString());
        Assert.True(body.GetProperty("stream").GetBoolean());
        Assert.True(body.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        Assert.Equal(50, body.GetProperty("max_tokens").GetInt32());
        Assert.Equal("Hello", body.GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.Equal("Bearer sk-test-123", sent.Headers["Authorization"]);
        Assert.Equal("tokenflow", sent.Headers["X-Org"]);
    }

    [Fact]
    public async Task Tool_call_fragments_and_reasoning_content_reach_the_stream_log()
    {
        var stream = Recorded.OpenAiChunk("""{"role":"assistant","content":null,"reasoning_content":"Let me "}""")
            + Recorded.OpenAiChunk("""{"reasoning_content":"think."}""")
            + Recorded.OpenAiChunk("""{"tool_calls":[{"index":0,"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":""}}]}""")
            + Recorded.OpenAiChunk("""{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}""")
            + Recorded.OpenAiChunk("""{"tool_calls":[{"index":0,"function":{"arguments":"\"Zürich\"}"}}]}""")
            + Recorded.OpenAiChunk("""{"tool_calls":[{"index":1,"id":"call_def","type":"function","function":{"name":"get_time","arguments":"{}"}}]}""")
            + Recorded.OpenAiChunk("{}", "tool_calls")
            + Recorded.OpenAiUsage(31, 17)
            + Recorded.OpenAiDone;
        await using var fake = await FakeUpstream.StartAsync(c => FakeUpstream.SseAsync(c, stream, split: 7));
        await using var server = await TestServer.StartAsync(Gateway.Upstream("fake", "openai", fake.V1, "--Tokenflow:Upstreams:fake:Models:0", "gpt-*"));

        using var response = await Gateway.PostAsync(server, Gateway.Chat("gpt-tools"));
        var events = await Gateway.ReadEventsAsync(response);
        Assert.Equal("tool_calls", Gateway.FinishReason(events));
        var log = await Gateway.LogAsync(server, response.Headers.GetValues("X-Stream-Id").Single());

        Assert.Equal("Let me think.", Gateway.Channel(log, DeltaChannel.Reasoning));
        var starts = log.Where(e => e.ToolCallId is not null).ToList();
        Assert.Equal(["call_abc", "call_def"], starts.Select(e => e.ToolCallId));
        Assert.Equal(["get_weather", "get_time"], starts.Select(e => e.ToolName));
        Assert.Equal("""{"city":"Zürich"}""", Gateway.Channel(log, DeltaChannel.ToolCall, 0));
        Assert.Equal("{}", Gateway.Channel(log, DeltaChannel.ToolCall, 1));
        var done = log[^1];
        Assert.Equal(StreamEventKind.Done, done.Kind);
        Assert.Equal(FinishReason.ToolCalls, done.FinishReason);
        Assert.Equal(new Usage(31, 17), done.Usage);
        Assert.Equal("gpt-tools", fake.Requests.Single().Body!.Value.GetProperty("model").GetString());

        // The same upstream stream, non-streamed: OpenAI's message.tool_calls with the concatenated arguments.
        using var whole = await Gateway.PostAsync(server, Gateway.Chat("gpt-tools", stream: false));
        var message = System.Text.Json.JsonDocument.Parse(await whole.Content.ReadAsStringAsync()).RootElement.GetProperty("choices")[0].GetProperty("message");
        Assert.Equal("Let me think.", message.GetProperty("reasoning_content").GetString());
        var calls = message.GetProperty("tool_calls");
        Assert.Equal(2, calls.GetArrayLength());
        Assert.Equal("call_abc", calls[0].GetProperty("id").GetString());
        Assert.Equal("""{"city":"Zürich"}""", calls[0].GetProperty("function").GetProperty("arguments").GetString());
    }

    [Fact]
    public async Task Completions_send_the_prompt_to_the_upstreams_completions_endpoint()
    {
        var stream = """data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"Once","logprobs":null,"finish_reason":null}]}""" + "\n\n"
            + """data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" more","logprobs":null,"finish_reason":"length"}]}""" + "\n\n"
            + Recorded.OpenAiDone;
        await using var fake = await FakeUpstream.StartAsync(c => FakeUpstream.SseAsync(c, stream));
        await using var server = await TestServer.StartAsync(Gateway.Upstream("fake", "openai", fake.V1));

        using var response = await Gateway.PostAsync(server, new { model = "fake/m", prompt = "Tell", stream = true, max_tokens = 2 }, "/v1/completions");
        var events = await Gateway.ReadEventsAsync(response);

        var text = string.Concat(events.Where(e => e.Data != "[DONE]").Select(e => System.Text.Json.JsonDocument.Parse(e.Data).RootElement.GetProperty("choices")).Where(c => c.GetArrayLength() > 0).Select(c => c[0].GetProperty("text").GetString()));
        Assert.Equal("Once more", text);
        var sent = fake.Requests.Single();
        Assert.Equal("/v1/completions", sent.Path);
        Assert.Equal("Tell", sent.Body!.Value.GetProperty("prompt").GetString());
    }

    [Fact]
    public async Task Without_upstream_usage_the_gateway_counts_the_pieces_itself()
    {
        var stream = Recorded.OpenAiChunk("""{"content":"a"}""") + Recorded.OpenAiChunk("""{"content":"b"}""") + Recorded.OpenAiChunk("""{"content":"c"}""") + Recorded.OpenAiChunk("{}", "stop") + Recorded.OpenAiDone;
        await using var fake = await FakeUpstream.StartAsync(c => FakeUpstream.SseAsync(c, stream));
        await using var server = await TestServer.StartAsync(Gateway.Upstream("fake", "openai", fake.V1));

        using var response = await Gateway.PostAsync(server, Gateway.Chat("fake/m"));
        var events = await Gateway.ReadEventsAsync(response);

        Assert.Equal("abc", Gateway.Content(events));
        Assert.Equal(3, Gateway.Usage(events).GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task A_non_streamed_request_is_streamed_from_the_upstream_and_answered_whole()
    {
        await using var fake = await FakeUpstream.StartAsync(c => FakeUpstream.SseAsync(c, Recorded.OpenAiText(["Hel", "lo"], 4, 2)));
        await using var server = await TestServer.StartAsync(Gateway.Upstream("fake", "openai", fake.V1));

        using var response = await Gateway.PostAsync(server, Gateway.Chat("fake/m", stream: false));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal("Hello", json.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(4, json.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.True(fake.Requests.Single().Body!.Value.GetProperty("stream").GetBoolean());
    }
}
