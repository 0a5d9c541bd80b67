using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Sim;
using Tokenflow.Server.Tests.OpenAi;

namespace Tokenflow.Server.Tests.Responses;

/// <summary>
/// The OpenAI Responses API on the same streams: numbered events, output items from the log's channels, the
/// response object, background responses polled and replayed by sequence number, and cancel.
/// </summary>
public sealed class ResponsesEndpointsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_streamed_response_numbers_every_event_and_carries_the_generated_text()
    {
        await using var server = await TestServer.StartAsync();
        var (response, events) = await ChatCompletionsStreamingTests.StreamAsync(server, new { model = "sim", input = "Hello", stream = true, max_output_tokens = 16, seed = 4 }, "/v1/responses");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var id = response.Headers.GetValues("X-Stream-Id").Single();
        Assert.StartsWith("resp_", id);
        Assert.Equal(Enumerable.Range(0, events.Count).Select(i => (long)i), events.Select(e => e.Json.GetProperty("sequence_number").GetInt64()));
        Assert.All(events, e => Assert.Equal(e.EventType, e.Json.GetProperty("type").GetString()));
        Assert.Equal(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"], events.Take(4).Select(e => e.EventType));
        Assert.Equal(["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.incomplete"], events.TakeLast(4).Select(e => e.EventType));
        var text = string.Concat(events.Where(e => e.EventType == "response.output_text.delta").Select(e => e.Json.GetProperty("delta").GetString()));
        Assert.Equal(SimBackend.ExpectedText(4, 16), text);
        Assert.Equal(text, events.Single(e => e.EventType == "response.output_text.done").Json.GetProperty("text").GetString());
        var final = events[^1].Json.GetProperty("response");
        Assert.Equal("incomplete", final.GetProperty("status").GetString());
        Assert.Equal(16, final.GetProperty("usage").GetProperty("output_tokens").GetInt32());
        Assert.Equal(text, final.GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task Reasoning_and_function_calls_become_output_items_streamed_and_not()
    {
        await using var server = await TestServer.StartAsync(configure: b => b.Services.AddSingleton(new ModelEntry("agent", "test", new AgentBackend())));
        var body = new { model = "agent", input = "weather?", stream = true, tools = new[] { new { type = "function", name = "get_weather", parameters = new { type = "object" } } } };
        var (_, events) = await ChatCompletionsStreamingTests.StreamAsync(server, body, "/v1/responses");

        var added = events.Where(e => e.EventType == "response.output_item.added").Select(e => e.Json.GetProperty("item")).ToList();
        Assert.Equal(["reasoning", "message", "function_call"], added.Select(i => i.GetProperty("type").GetString()));
        Assert.Equal("call_7", added[2].GetProperty("call_id").GetString());
        Assert.Equal(AgentBackend.Arguments, string.Concat(events.Where(e => e.EventType == "response.function_call_arguments.delta").Select(e => e.Json.GetProperty("delta").GetString())));
        Assert.Equal(AgentBackend.Thinking, string.Concat(events.Where(e => e.EventType == "response.reasoning_text.delta").Select(e => e.Json.GetProperty("delta").GetString())));
        Assert.Equal("response.completed", events[^1].EventType);

        using var complete = await server.Client.PostAsJsonAsync("/v1/responses", new { model = "agent", input = "weather?", tools = body.tools });
        var output = (await complete.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("output").EnumerateArray().ToList();
        Assert.Equal(["reasoning", "message", "function_call"], output.Select(i => i.GetProperty("type").GetString()));
        Assert.Equal(AgentBackend.Arguments, output[2].GetProperty("arguments").GetString());
        Assert.Equal("get_weather", output[2].GetProperty("name").GetString());
    }

    [Fact]
    public async Task A_background_response_is_polled_replayed_from_a_sequence_number_and_cancelled()
    {
        await using var server = await TestServer.StartAsync();
        using var created = await server.Client.PostAsJsonAsync("/v1/responses", new { model = "sim", input = "Go", background = true, max_output_tokens = 100_000, seed = 2, sim_tokens_per_second = 200 });
        var queued = await created.Content.ReadFromJsonAsync<JsonElement>();
        var id = queued.GetProperty("id").GetString()!;
        Assert.Equal("in_progress", queued.GetProperty("status").GetString());

        using var timeout = new CancellationTokenSource(Timeout);
        using var live = await server.Client.GetAsync($"/v1/responses/{id}?stream=true&starting_after=3", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        using var cancelled = await server.Client.PostAsync($"/v1/responses/{id}/cancel", null, timeout.Token);
        Assert.Equal("cancelled", (await cancelled.Content.ReadFromJsonAsync<JsonElement>(timeout.Token)).GetProperty("status").GetString());

        var tail = await SseEvent.ReadAllAsync(await live.Content.ReadAsStreamAsync(timeout.Token), timeout.Token);
        Assert.Equal(4, tail[0].Json.GetProperty("sequence_number").GetInt64());
        Assert.Equal("cancelled", tail[^1].Json.GetProperty("response").GetProperty("status").GetString());

        var all = await SseEvent.ReadAllAsync(await server.Client.GetStreamAsync($"/v1/responses/{id}?stream=true", timeout.Token), timeout.Token);
        Assert.Equal(all.Skip(4).Select(e => e.Data), tail.Select(e => e.Data));

        using var polled = await server.Client.GetAsync($"/v1/responses/{id}", timeout.Token);
        var result = await polled.Content.ReadFromJsonAsync<JsonElement>(timeout.Token);
        Assert.Equal("cancelled", result.GetProperty("status").GetString());
        using var stream = await server.Client.GetAsync($"/v1/streams/{id}", timeout.Token);
        Assert.Equal("cancelled", (await stream.Content.ReadFromJsonAsync<JsonElement>(timeout.Token)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Previous_response_id_continues_the_conversation_with_its_input_output_and_function_calls_but_not_its_instructions()
    {
        var recorder = new RecordingBackend();
        await using var server = await TestServer.StartAsync(configure: b =>
        {
            b.Services.AddSingleton(new ModelEntry("agent", "test", new AgentBackend()));
            b.Services.AddSingleton(new ModelEntry("recorder", "test", recorder));
        });
        var tools = new[] { new { type = "function", name = "get_weather", parameters = new { type = "object" } } };

        // Turn 1 calls a function; turn 2 answers it by previous_response_id; turn 3 continues turn 2.
        var first = await PostAsync(server, new { model = "agent", input = "Weather in Zürich?", instructions = "Be brief.", tools });
        var second = await PostAsync(server, new
        {
            model = "recorder",
            previous_response_id = first.GetProperty("id").GetString(),
            instructions = "Answer in French.",
            input = new object[] { new { type = "function_call_output", call_id = "call_7", output = "{\"temp\":21}" } },
            tools,
        });
        Assert.Equal("completed", second.GetProperty("status").GetString());
        var seen = recorder.Requests.Single();
        Assert.Equal(
            [("system", "Answer in French."), ("user", "Weather in Zürich?"), ("assistant", "One moment."), ("tool", "{\"temp\":21}")],
            seen.Select(m => (m.Role, m.Content)));
        var call = Assert.Single(seen[2].ToolCalls!);
        Assert.Equal(("call_7", "get_weather", AgentBackend.Arguments), (call.Id, call.Name, call.Arguments));
        Assert.Equal("call_7", seen[3].ToolCallId);

        await PostAsync(server, new { model = "recorder", previous_response_id = second.GetProperty("id").GetString(), input = "Thanks!", stream = true });
        Assert.Equal(
            ["user:Weather in Zürich?", "assistant:One moment.", "tool:{\"temp\":21}", $"assistant:{RecordingBackend.Reply}", "user:Thanks!"],
            recorder.Requests[1].Select(m => $"{m.Role}:{m.Content}"));
    }

    [Fact]
    public async Task A_store_false_response_is_neither_retrievable_nor_continuable_and_unknown_or_running_previous_responses_are_refused()
    {
        await using var server = await TestServer.StartAsync();
        var unstored = await PostAsync(server, new { model = "sim", input = "Hi", store = false, max_output_tokens = 4 });
        var id = unstored.GetProperty("id").GetString()!;
        Assert.Equal("incomplete", unstored.GetProperty("status").GetString());

        using var get = await server.Client.GetAsync($"/v1/responses/{id}");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        foreach (var previous in new[] { id, "resp_doesnotexist" })
        {
            using var continued = await server.Client.PostAsJsonAsync("/v1/responses", new { model = "sim", input = "More", previous_response_id = previous });
            Assert.Equal(HttpStatusCode.NotFound, continued.StatusCode);
            var error = (await continued.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
            Assert.Equal(("previous_response_id", "previous_response_not_found"), (error.GetProperty("param").GetString(), error.GetProperty("code").GetString()));
        }

        using var timeout = new CancellationTokenSource(Timeout);
        var running = await PostAsync(server, new { model = "sim", input = "Go", background = true, max_output_tokens = 100_000, sim_tokens_per_second = 50 });
        var runningId = running.GetProperty("id").GetString()!;
        using (var early = await server.Client.PostAsJsonAsync("/v1/responses", new { model = "sim", input = "More", previous_response_id = runningId }, timeout.Token))
        {
            Assert.Equal(HttpStatusCode.BadRequest, early.StatusCode);
            Assert.Equal("previous_response_in_progress", (await early.Content.ReadFromJsonAsync<JsonElement>(timeout.Token)).GetProperty("error").GetProperty("code").GetString());
        }

        // Once it has ended (cancelled here) it can be continued.
        using var cancelled = await server.Client.PostAsync($"/v1/responses/{runningId}/cancel", null, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, cancelled.StatusCode);
        var next = await PostAsync(server, new { model = "sim", input = "More", previous_response_id = runningId, max_output_tokens = 3 });
        Assert.Equal("incomplete", next.GetProperty("status").GetString());
    }

    private static async Task<JsonElement> PostAsync(TestServer server, object body)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        using var response = await server.Client.PostAsJsonAsync("/v1/responses", body, timeout.Token);
        var text = await response.Content.ReadAsStringAsync(timeout.Token);
        Assert.True(response.IsSuccessStatusCode, text);
        if (response.Content.Headers.ContentType?.MediaType == "text/event-stream")
        {
            var events = await SseEvent.ReadAllAsync(new MemoryStream(Encoding.UTF8.GetBytes(text)), timeout.Token);
            return events[^1].Json.GetProperty("response");
        }

        return JsonDocument.Parse(text).RootElement;
    }

    /// <summary>Answers with a fixed text and records the messages of every request.</summary>
    private sealed class RecordingBackend : IModelBackend
    {
        public const string Reply = "Il fait 21 degrés.";

        public List<IReadOnlyList<ChatMessage>> Requests { get; } = [];

        public async IAsyncEnumerable<TokenPiece> GenerateAsync(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            lock (Requests)
            {
                Requests.Add([.. request.Messages!]);
            }

            await Task.Yield();
            yield return new TokenPiece(Encoding.UTF8.GetBytes(Reply));
        }
    }

    [Theory]
    [InlineData("""{"model":"sim"}""", "input")]
    [InlineData("""{"model":"sim","input":[{"role":"user","content":[{"type":"input_image","image_url":"x"}]}]}""", "input[0].content[0].type")]
    [InlineData("""{"model":"sim","input":"x","tools":[{"type":"web_search"}]}""", "tools[0].type")]
    [InlineData("""{"model":"sim","input":"x","previous_response_id":7}""", "previous_response_id")]
    [InlineData("""{"model":"sim","input":"x","store":"no"}""", "store")]
    [InlineData("""{"model":"sim","input":"x","store":false,"background":true}""", "store")]
    [InlineData("""{"model":"sim","input":"x","max_output_tokens":0}""", "max_output_tokens")]
    // A number of the wrong JSON type names its field (it once read as "a string that is not valid UTF-16").
    [InlineData("""{"model":"sim","input":"x","max_output_tokens":"5"}""", "max_output_tokens")]
    [InlineData("""{"model":"sim","input":"x","temperature":"hot"}""", "temperature")]
    [InlineData("""{"model":"sim","input":"x","top_p":[1]}""", "top_p")]
    [InlineData("""{"model":"sim","input":"x","seed":"x"}""", "seed")]
    [InlineData("""{"model":"sim","input":"x","seed":1.5}""", "seed")]
    public async Task Bad_requests_are_a_400_naming_the_field(string body, string param)
    {
        await using var server = await TestServer.StartAsync();
        using var response = await server.Client.PostAsync("/v1/responses", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(param, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("param").GetString());
    }

    private sealed class AgentBackend : IModelBackend
    {
        public const string Thinking = "Need the weather in Zürich.";
        public const string Arguments = "{\"city\":\"Zürich\"}";

        public async IAsyncEnumerable<TokenPiece> GenerateAsync(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.Yield();
            yield return TokenPiece.Reasoning(Encoding.UTF8.GetBytes(Thinking));
            yield return new TokenPiece("One moment."u8.ToArray());
            var arguments = Encoding.UTF8.GetBytes(Arguments);
            yield return TokenPiece.ToolCallStart(0, "call_7", "get_weather", arguments.AsMemory(0, 5));
            yield return TokenPiece.ToolCallArguments(0, arguments.AsMemory(5));
        }
    }
}
