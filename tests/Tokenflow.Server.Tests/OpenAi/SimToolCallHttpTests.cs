using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Sim;

namespace Tokenflow.Server.Tests.OpenAi;

/// <summary>
/// <c>sim</c> answers forced tools with tool calls over a real server: the streamed
/// <c>delta.tool_calls</c> fragments, concatenated per index, are the non-streamed
/// <c>message.tool_calls</c>, the calls the simulator promises for the seed, and arguments that
/// validate against each function's schema; a conversation with the results continues.
/// </summary>
public sealed class SimToolCallHttpTests
{
    internal const string WeatherSchema = """{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]},"days":{"type":"integer","minimum":1,"maximum":14}},"required":["city"]}""";
    internal const string OrderSchema = """{"type":"object","additionalProperties":false,"properties":{"lines":{"type":"array","minItems":1,"maxItems":3,"items":{"type":"object","properties":{"sku":{"type":"string","minLength":3,"maxLength":8},"qty":{"type":"integer","minimum":1}},"required":["sku","qty"],"additionalProperties":false}},"paid":{"type":"boolean"},"note":{"type":["string","null"]}},"required":["lines","paid","note"]}""";

    private static readonly EvaluationOptions Validation = new() { OutputFormat = OutputFormat.List };

    private static readonly (string Name, string Schema)[] Functions = [("get_weather", WeatherSchema), ("place_order", OrderSchema), ("get_time", """{"type":"object","properties":{}}""")];

    private static JsonArray ToolsJson() => [.. Functions.Select(f => new JsonObject
    {
        ["type"] = "function",
        ["function"] = new JsonObject { ["name"] = f.Name, ["description"] = "test function", ["parameters"] = JsonNode.Parse(f.Schema) },
    })];

    private static JsonObject ToolRequest(long seed, bool stream, JsonNode? choice = null, int calls = 3, bool? parallel = null)
    {
        var body = new JsonObject
        {
            ["model"] = "sim",
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Weather in Zürich, and order two?" }),
            ["tools"] = ToolsJson(),
            ["tool_choice"] = choice ?? "required",
            ["sim_tool_calls"] = calls,
            ["seed"] = seed,
            ["stream"] = stream,
        };
        if (parallel is { } p)
        {
            body["parallel_tool_calls"] = p;
        }

        return body;
    }

    /// <summary>The simulator's promise for the same request, built the way the server builds it.</summary>
    private static IReadOnlyList<ChatToolCall> Expected(long seed, ToolChoice choice, int calls, bool parallel = true) => SimBackend.ExpectedToolCalls(new BackendRequest
    {
        Model = SimBackend.ModelId,
        Seed = seed,
        Tools = [.. Functions.Select(f => new ToolDefinition(f.Name, "test function", JsonDocument.Parse(f.Schema).RootElement.Clone()))],
        ToolChoice = choice,
        SimToolCalls = calls,
        ParallelToolCalls = parallel,
    });

    private static StringContent Body(JsonNode body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    internal static List<(int Index, string Id, string Name, string Arguments)> StreamedCalls(IEnumerable<JsonElement> chunks)
    {
        var fragments = chunks
            .Where(c => c.GetProperty("choices").GetArrayLength() > 0)
            .Select(c => c.GetProperty("choices")[0].GetProperty("delta"))
            .Where(d => d.TryGetProperty("tool_calls", out _))
            .SelectMany(d => d.GetProperty("tool_calls").EnumerateArray())
            .ToList();
        return [.. fragments.GroupBy(f => f.GetProperty("index").GetInt32()).OrderBy(g => g.Key).Select(g =>
        {
            // Id, type and name come on a call's first fragment only, as OpenAI streams them.
            var first = g.First();
            Assert.Equal("function", first.GetProperty("type").GetString());
            Assert.All(g.Skip(1), f => Assert.False(f.TryGetProperty("id", out _)));
            return (g.Key, first.GetProperty("id").GetString()!, first.GetProperty("function").GetProperty("name").GetString()!,
                string.Concat(g.Select(f => f.GetProperty("function").GetProperty("arguments").GetString())));
        })];
    }

    private static List<(int Index, string Id, string Name, string Arguments)> MessageCalls(JsonElement message)
        => [.. message.GetProperty("tool_calls").EnumerateArray().Select((c, i) =>
        {
            Assert.Equal("function", c.GetProperty("type").GetString());
            return (i, c.GetProperty("id").GetString()!, c.GetProperty("function").GetProperty("name").GetString()!, c.GetProperty("function").GetProperty("arguments").GetString()!);
        })];

    private static void AssertValid(string name, string arguments)
    {
        var schema = JsonSchema.FromText(Functions.Single(f => f.Name == name).Schema);
        var result = schema.Evaluate(JsonNode.Parse(arguments), Validation);
        Assert.True(result.IsValid, $"{name}({arguments}) does not validate");
    }

    [Fact]
    public async Task Streamed_tool_call_fragments_concatenate_to_the_non_streamed_tool_calls_for_many_seeds()
    {
        await using var server = await TestServer.StartAsync();
        for (var seed = 0L; seed < 25; seed++)
        {
            var (response, events) = await ChatCompletionsStreamingTests.StreamAsync(server, ToolRequest(seed, stream: true));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("[DONE]", events[^1].Data);
            var chunks = events.SkipLast(1).Select(e => e.Json).ToList();
            var streamed = StreamedCalls(chunks);
            Assert.Equal("tool_calls", chunks.Select(c => c.GetProperty("choices")).Where(c => c.GetArrayLength() > 0).Last()[0].GetProperty("finish_reason").GetString());
            Assert.DoesNotContain(chunks, c => c.GetProperty("choices").GetArrayLength() > 0 && c.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var t) && t.ValueKind == JsonValueKind.String && t.GetString()!.Length > 0);

            using var complete = await server.Client.PostAsync("/v1/chat/completions", Body(ToolRequest(seed, stream: false)));
            Assert.Equal(HttpStatusCode.OK, complete.StatusCode);
            var choice = (await complete.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("choices")[0];
            Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
            var message = choice.GetProperty("message");
            Assert.Equal("assistant", message.GetProperty("role").GetString());
            Assert.Equal(MessageCalls(message), streamed);

            var expected = Expected(seed, ToolChoice.Required, 3);
            Assert.Equal(expected.Select((c, i) => (i, c.Id, c.Name, c.Arguments)), streamed);
            Assert.Equal(["get_weather", "place_order", "get_time"], streamed.Select(c => c.Name));
            Assert.All(streamed, c => AssertValid(c.Name, c.Arguments));
        }
    }

    [Fact]
    public async Task A_named_function_without_parallel_calls_is_called_once()
    {
        await using var server = await TestServer.StartAsync();
        var named = JsonNode.Parse("""{"type":"function","function":{"name":"place_order"}}""");
        using var response = await server.Client.PostAsync("/v1/chat/completions", Body(ToolRequest(5, stream: false, named, calls: 3, parallel: false)));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var choice = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("choices")[0];
        var call = Assert.Single(MessageCalls(choice.GetProperty("message")));
        Assert.Equal("place_order", call.Name);
        Assert.Equal(Expected(5, new ToolChoice(ToolChoiceMode.Function, "place_order"), 3, parallel: false)[0].Arguments, call.Arguments);
        AssertValid(call.Name, call.Arguments);
    }

    [Fact]
    public async Task A_conversation_with_the_tool_results_is_accepted_and_continues()
    {
        await using var server = await TestServer.StartAsync();
        var first = ToolRequest(11, stream: false, calls: 2);
        using var response = await server.Client.PostAsync("/v1/chat/completions", Body(first));
        var message = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("choices")[0].GetProperty("message");

        // Send the assistant turn back as the client got it, then one tool message per call.
        var messages = first["messages"]!.AsArray();
        messages.Add(JsonNode.Parse(message.GetRawText()));
        foreach (var call in message.GetProperty("tool_calls").EnumerateArray())
        {
            messages.Add(new JsonObject { ["role"] = "tool", ["tool_call_id"] = call.GetProperty("id").GetString(), ["content"] = "{\"ok\":true}" });
        }

        first["tool_choice"] = "auto";
        first["max_tokens"] = 8;
        first["stream"] = true;
        var (next, events) = await ChatCompletionsStreamingTests.StreamAsync(server, first);
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Equal(SimBackend.ExpectedText(11, 8), string.Concat(events.Select(e => e.Text)));
        Assert.Equal("length", events[^2].Json.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task A_json_schema_response_format_gives_content_that_validates_and_stops()
    {
        await using var server = await TestServer.StartAsync();
        var schema = JsonSchema.FromText(OrderSchema);
        for (var seed = 0L; seed < 10; seed++)
        {
            var body = new JsonObject
            {
                ["model"] = "sim",
                ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "an order as JSON" }),
                ["response_format"] = new JsonObject { ["type"] = "json_schema", ["json_schema"] = new JsonObject { ["name"] = "order", ["schema"] = JsonNode.Parse(OrderSchema), ["strict"] = true } },
                ["seed"] = seed,
            };
            using var response = await server.Client.PostAsync("/v1/chat/completions", Body(body));
            var choice = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("choices")[0];
            var content = choice.GetProperty("message").GetProperty("content").GetString()!;
            Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
            Assert.True(schema.Evaluate(JsonNode.Parse(content), Validation).IsValid, content);
            Assert.Equal(SimBackend.ExpectedJson(new BackendRequest
            {
                Model = "sim",
                Seed = seed,
                ResponseFormat = new ResponseFormat(ResponseFormatKind.JsonSchema, JsonDocument.Parse(OrderSchema).RootElement.Clone(), "order", true),
            }), content);
        }
    }

    [Fact]
    public async Task A_json_answer_cut_by_max_tokens_ends_with_length()
    {
        await using var server = await TestServer.StartAsync();
        using var response = await server.Client.PostAsync("/v1/chat/completions", Body(new JsonObject
        {
            ["model"] = "sim",
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "JSON" }),
            ["response_format"] = new JsonObject { ["type"] = "json_object" },
            ["seed"] = 1,
            ["max_tokens"] = 1,
        }));
        var choice = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("choices")[0];
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task A_schema_that_explodes_is_cut_by_max_tokens_not_a_server_error()
    {
        await using var server = await TestServer.StartAsync();
        var body = JsonNode.Parse("""
            {"model":"sim","messages":[{"role":"user","content":"go"}],"seed":1,"tool_choice":"required","sim_tool_calls":128,
             "tools":[{"type":"function","function":{"name":"boom","parameters":
               {"type":"object","properties":{"a":{"$ref":"#"},"b":{"$ref":"#"},"c":{"$ref":"#"}},"required":["a","b","c"]}}}]}
            """)!;
        using var response = await server.Client.PostAsync("/v1/chat/completions", Body(body));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var choice = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("choices")[0];
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal("boom", Assert.Single(MessageCalls(choice.GetProperty("message"))).Name);
    }

    [Fact]
    public async Task A_websocket_generate_with_tools_streams_the_same_tool_calls()
    {
        await using var server = await TestServer.StartAsync();
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new UriBuilder(server.Address) { Scheme = "ws", Path = "/v1/ws" }.Uri, CancellationToken.None);
        var request = ToolRequest(21, stream: true, calls: 2);
        var message = new JsonObject { ["type"] = "generate", ["id"] = "t", ["request"] = request };
        await socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);

        var chunks = new List<JsonElement>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var frame = await ReceiveAsync(socket, timeout.Token);
            var type = frame.GetProperty("type").GetString();
            Assert.NotEqual("error", type);
            if (type == "event")
            {
                chunks.Add(frame.GetProperty("data"));
            }
            else if (type == "done")
            {
                Assert.Equal("completed", frame.GetProperty("status").GetString());
                break;
            }
        }

        var expected = Expected(21, ToolChoice.Required, 2);
        Assert.Equal(expected.Select((c, i) => (i, c.Id, c.Name, c.Arguments)), StreamedCalls(chunks));
        Assert.Equal("tool_calls", chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0).Last().GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    private static async Task<JsonElement> ReceiveAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        WebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer, cancellationToken);
            message.Write(buffer, 0, result.Count);
        }
        while (!result.EndOfMessage);

        return JsonDocument.Parse(message.ToArray()).RootElement.Clone();
    }
}
