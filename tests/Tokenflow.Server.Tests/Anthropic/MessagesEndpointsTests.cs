using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Sim;
using Tokenflow.Server.Tests.OpenAi;

namespace Tokenflow.Server.Tests.Anthropic;

/// <summary>
/// <c>POST /v1/messages</c> speaks the Anthropic Messages API on the same streams: the event sequence, thinking
/// and tool_use blocks from the log's channels, Anthropic error shapes, x-api-key, and replay/resume of the
/// message's stream in the same framing.
/// </summary>
public sealed class MessagesEndpointsTests
{
    private static object Body(string model = "sim", bool stream = true, int maxTokens = 20, object? extra = null)
    {
        var body = new Dictionary<string, object?> { ["model"] = model, ["max_tokens"] = maxTokens, ["messages"] = new[] { new { role = "user", content = "Hello" } }, ["stream"] = stream, ["seed"] = 11 };
        foreach (var property in JsonSerializer.SerializeToElement(extra ?? new { }).EnumerateObject())
        {
            body[property.Name] = property.Value;
        }

        return body;
    }

    [Fact]
    public async Task A_streamed_message_follows_the_anthropic_event_sequence_with_the_generated_text()
    {
        await using var server = await TestServer.StartAsync();
        var (response, events) = await ChatCompletionsStreamingTests.StreamAsync(server, Body(), "/v1/messages");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var id = response.Headers.GetValues("X-Stream-Id").Single();
        Assert.StartsWith("msg_", id);
        var types = events.Select(e => e.EventType).ToList();
        Assert.Equal(["message_start", "ping", "content_block_start"], types.Take(3));
        Assert.Equal(["content_block_stop", "message_delta", "message_stop"], types.TakeLast(3));
        Assert.All(events, e => Assert.Equal(e.EventType, e.Json.GetProperty("type").GetString()));
        Assert.Equal(id, events[0].Json.GetProperty("message").GetProperty("id").GetString());
        Assert.Equal("text", events[2].Json.GetProperty("content_block").GetProperty("type").GetString());

        var text = string.Concat(events.Where(e => e.EventType == "content_block_delta").Select(e => e.Json.GetProperty("delta").GetProperty("text").GetString()));
        Assert.Equal(SimBackend.ExpectedText(11, 20), text);
        var delta = events.Single(e => e.EventType == "message_delta").Json;
        Assert.Equal("max_tokens", delta.GetProperty("delta").GetProperty("stop_reason").GetString());
        Assert.Equal(20, delta.GetProperty("usage").GetProperty("output_tokens").GetInt32());

        using var status = await server.Client.GetAsync($"/v1/streams/{id}");
        Assert.Equal("completed", (await status.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_stop_sequence_ends_the_message_with_stop_reason_stop_sequence_and_its_value_streamed_replayed_and_whole()
    {
        await using var server = await TestServer.StartAsync();
        var full = SimBackend.ExpectedText(11, 20);
        // A stop made of a word the seeded sim model generates in the middle of its text.
        var word = full.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3];
        var stop = " " + word;
        var expected = full[..full.IndexOf(stop, StringComparison.Ordinal)];
        var extra = new { stop_sequences = new[] { "never-generated", stop } };

        var (response, events) = await ChatCompletionsStreamingTests.StreamAsync(server, Body(extra: extra), "/v1/messages");
        Assert.Equal(expected, string.Concat(events.Where(e => e.EventType == "content_block_delta").Select(e => e.Json.GetProperty("delta").GetProperty("text").GetString())));
        var delta = events.Single(e => e.EventType == "message_delta").Json.GetProperty("delta");
        Assert.Equal(("stop_sequence", stop), (delta.GetProperty("stop_reason").GetString(), delta.GetProperty("stop_sequence").GetString()));

        // The stream's own replay (as another process would serve it) says the same.
        var id = response.Headers.GetValues("X-Stream-Id").Single();
        var replayed = await SseEvent.ReadAllAsync(await server.Client.GetStreamAsync($"/v1/streams/{id}/events"));
        Assert.Equal(stop, replayed.Single(e => e.EventType == "message_delta").Json.GetProperty("delta").GetProperty("stop_sequence").GetString());

        using var whole = await server.Client.PostAsJsonAsync("/v1/messages", Body(stream: false, extra: extra));
        var message = await whole.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(("stop_sequence", stop), (message.GetProperty("stop_reason").GetString(), message.GetProperty("stop_sequence").GetString()));
        Assert.Equal(expected, message.GetProperty("content")[0].GetProperty("text").GetString());

        // Without a matching stop the message ends on its own terms and stop_sequence is null.
        var (_, plain) = await ChatCompletionsStreamingTests.StreamAsync(server, Body(extra: new { stop_sequences = new[] { "never-generated" } }), "/v1/messages");
        var plainDelta = plain.Single(e => e.EventType == "message_delta").Json.GetProperty("delta");
        Assert.Equal(("max_tokens", JsonValueKind.Null), (plainDelta.GetProperty("stop_reason").GetString(), plainDelta.GetProperty("stop_sequence").ValueKind));
    }

    [Fact]
    public async Task Thinking_text_and_tool_use_blocks_stream_and_match_the_non_streamed_message()
    {
        await using var server = await TestServer.StartAsync(configure: b => b.Services.AddSingleton(new ModelEntry("agent", "test", new AgentBackend())));
        var extra = new { tools = new[] { new { name = "get_weather", description = "Weather", input_schema = new { type = "object", properties = new { city = new { type = "string" } } } } } };
        var (_, events) = await ChatCompletionsStreamingTests.StreamAsync(server, Body("agent", extra: extra), "/v1/messages");

        var starts = events.Where(e => e.EventType == "content_block_start").Select(e => e.Json).ToList();
        Assert.Equal(["thinking", "text", "tool_use"], starts.Select(s => s.GetProperty("content_block").GetProperty("type").GetString()));
        Assert.Equal([0, 1, 2], starts.Select(s => s.GetProperty("index").GetInt32()));
        Assert.Equal("call_9", starts[2].GetProperty("content_block").GetProperty("id").GetString());
        Assert.Equal("get_weather", starts[2].GetProperty("content_block").GetProperty("name").GetString());
        string Joined(int index, string field) => string.Concat(events.Where(e => e.EventType == "content_block_delta" && e.Json.GetProperty("index").GetInt32() == index).Select(e => e.Json.GetProperty("delta").GetProperty(field).GetString()));
        Assert.Equal(AgentBackend.Thinking, Joined(0, "thinking"));
        Assert.Equal("Checking.", Joined(1, "text"));
        Assert.Equal(AgentBackend.Arguments, Joined(2, "partial_json"));
        Assert.Equal(3, events.Count(e => e.EventType == "content_block_stop"));
        Assert.Equal("tool_use", events.Single(e => e.EventType == "message_delta").Json.GetProperty("delta").GetProperty("stop_reason").GetString());

        using var complete = await server.Client.PostAsJsonAsync("/v1/messages", Body("agent", stream: false, extra: extra));
        var message = await complete.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("message", message.GetProperty("type").GetString());
        Assert.Equal("tool_use", message.GetProperty("stop_reason").GetString());
        var content = message.GetProperty("content").EnumerateArray().ToList();
        Assert.Equal(["thinking", "text", "tool_use"], content.Select(c => c.GetProperty("type").GetString()));
        Assert.Equal(AgentBackend.Thinking, content[0].GetProperty("thinking").GetString());
        Assert.Equal("Zürich", content[2].GetProperty("input").GetProperty("city").GetString());
    }

    [Fact]
    public async Task A_resumed_message_stream_continues_exactly_where_the_client_left()
    {
        await using var server = await TestServer.StartAsync(configure: b => b.Services.AddSingleton(new ModelEntry("agent", "test", new AgentBackend())));
        var response = await server.Client.PostAsync("/v1/messages", ChatCompletionsStreamingTests.Body(Body("agent")));
        var original = await SseEvent.ReadAllAsync(await response.Content.ReadAsStreamAsync());
        var id = response.Headers.GetValues("X-Stream-Id").Single();

        var full = await SseEvent.ReadAllAsync(await server.Client.GetStreamAsync($"/v1/streams/{id}/events"));
        Assert.Equal(original.Select(e => (e.EventType, e.Data)), full.Select(e => (e.EventType, e.Data)));

        var cut = original.Where(e => e.Id is not null).ElementAt(5);
        using var resume = new HttpRequestMessage(HttpMethod.Get, $"/v1/streams/{id}/events");
        resume.Headers.Add("Last-Event-ID", cut.Id);
        var rest = await SseEvent.ReadAllAsync(await (await server.Client.SendAsync(resume)).Content.ReadAsStreamAsync());
        var expected = original.SkipWhile(e => e.Id is null || long.Parse(e.Id) <= long.Parse(cut.Id!)).ToList();
        Assert.NotEmpty(expected);
        Assert.Equal(expected.Select(e => (e.EventType, e.Data)), rest.Select(e => (e.EventType, e.Data)));
    }

    [Theory]
    [InlineData("""{"model":"sim","messages":[{"role":"user","content":"x"}]}""", 400, "invalid_request_error", "max_tokens")]
    [InlineData("""{"model":"nope","max_tokens":5,"messages":[{"role":"user","content":"x"}]}""", 404, "not_found_error", "nope")]
    [InlineData("""{"model":"sim","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{}}]}]}""", 400, "invalid_request_error", "image")]
    [InlineData("""{"model":"sim","max_tokens":5,"messages":[{"role":"system","content":"x"}]}""", 400, "invalid_request_error", "role")]
    [InlineData("""{"model":"sim","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"any"}}""", 400, "invalid_request_error", "tool_choice")]
    [InlineData("""{"model":"sim","max_tokens":5""", 400, "invalid_request_error", "JSON")]
    [InlineData("""{"model":"sim","max_tokens":5,"messages":[{"role":"user","content":"x"}],"resume_grace_ms":"x"}""", 400, "invalid_request_error", "resume_grace_ms")]
    [InlineData("""{"model":"sim","max_tokens":5,"messages":[{"role":"user","content":"x"}],"seed":"x"}""", 400, "invalid_request_error", "seed")]
    [InlineData("""{"model":"sim","max_tokens":5,"messages":[{"role":"user","content":"x"}],"temperature":"hot"}""", 400, "invalid_request_error", "temperature")]
    public async Task Bad_requests_get_anthropic_error_shapes(string body, int status, string type, string mentions)
    {
        await using var server = await TestServer.StartAsync();
        using var response = await server.Client.PostAsync("/v1/messages", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(status, (int)response.StatusCode);
        var error = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("error", error.GetProperty("type").GetString());
        Assert.Equal(type, error.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains(mentions, error.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Api_keys_are_accepted_as_x_api_key_and_refused_in_anthropic_shape()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:ApiKeys:0", "sk-ant-test"]);
        using var refused = await server.Client.PostAsJsonAsync("/v1/messages", Body(stream: false));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("authentication_error", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("type").GetString());

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = JsonContent.Create(Body(stream: false)) };
        request.Headers.Add("x-api-key", "sk-ant-test");
        using var accepted = await server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        Assert.Equal(SimBackend.ExpectedText(11, 20), (await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("content")[0].GetProperty("text").GetString());
    }

    /// <summary>Thinks, says a few words, then calls one tool; pieces split inside characters.</summary>
    private sealed class AgentBackend : IModelBackend
    {
        public const string Thinking = "The user is in Zürich; I need the weather.";
        public const string Arguments = "{\"city\":\"Zürich\"}";

        public async IAsyncEnumerable<TokenPiece> GenerateAsync(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.Yield();
            var thinking = Encoding.UTF8.GetBytes(Thinking);
            for (var i = 0; i < thinking.Length; i += 4)
            {
                yield return TokenPiece.Reasoning(thinking.AsMemory(i, Math.Min(4, thinking.Length - i)));
            }

            yield return new TokenPiece("Checking."u8.ToArray());
            var arguments = Encoding.UTF8.GetBytes(Arguments);
            yield return TokenPiece.ToolCallStart(0, "call_9", "get_weather", arguments.AsMemory(0, 3));
            for (var i = 3; i < arguments.Length; i += 3)
            {
                yield return TokenPiece.ToolCallArguments(0, arguments.AsMemory(i, Math.Min(3, arguments.Length - i)));
            }
        }
    }
}
