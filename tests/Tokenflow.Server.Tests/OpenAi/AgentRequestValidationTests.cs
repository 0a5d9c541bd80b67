using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Tokenflow.Core.Backends;

namespace Tokenflow.Server.Tests.OpenAi;

/// <summary>
/// The agent fields of a chat request (tools, tool_choice, parallel_tool_calls, response_format,
/// tool messages, content parts) are checked at the edge: every wrong shape is an OpenAI 400 that
/// names the field, and what passes reaches the backend whole.
/// </summary>
public sealed class AgentRequestValidationTests
{
    private const string User = """{"role":"user","content":"hi"}""";
    private const string Weather = """{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}""";
    private const string Calls = """{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]}""";

    private static string Chat(string extra = "", string messages = User)
        => $$"""{"model":"sim","messages":[{{messages}}]{{(extra.Length == 0 ? "" : "," + extra)}}}""";

    private static string Tools(string extra = "") => $"\"tools\":[{Weather}]" + (extra.Length == 0 ? "" : "," + extra);

    public static TheoryData<string, string, string> BadBodies() => new()
    {
        { "tools not an array", Chat("\"tools\":{}"), "tools" },
        { "tools empty", Chat("\"tools\":[]"), "tools" },
        { "tool not an object", Chat("\"tools\":[1]"), "tools[0]" },
        { "tool without type", Chat("\"tools\":[{\"function\":{\"name\":\"f\"}}]"), "tools[0].type" },
        { "unknown tool type", Chat("\"tools\":[{\"type\":\"web_search\"}]"), "tools[0].type" },
        { "tool without function", Chat("\"tools\":[{\"type\":\"function\"}]"), "tools[0].function" },
        { "function without name", Chat("\"tools\":[{\"type\":\"function\",\"function\":{}}]"), "tools[0].function.name" },
        { "function name with a space", Chat("\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get weather\"}}]"), "tools[0].function.name" },
        { "function name of 65 characters", Chat($"\"tools\":[{{\"type\":\"function\",\"function\":{{\"name\":\"{new string('f', 65)}\"}}}}]"), "tools[0].function.name" },
        { "function name empty", Chat("\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"\"}}]"), "tools[0].function.name" },
        { "parameters a string", Chat("\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":\"{}\"}}]"), "tools[0].function.parameters" },
        { "parameters of type array", Chat("\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"array\"}}}]"), "tools[0].function.parameters" },
        { "description a number", Chat("\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"description\":5}}]"), "tools[0].function.description" },
        { "strict a string", Chat("\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"strict\":\"yes\"}}]"), "tools[0].function.strict" },
        { "a function twice", Chat($"\"tools\":[{Weather},{Weather}]"), "tools[1].function.name" },
        { "tool_choice without tools", Chat("\"tool_choice\":\"required\""), "tool_choice" },
        { "tool_choice unknown word", Chat(Tools("\"tool_choice\":\"always\"")), "tool_choice" },
        { "tool_choice names a function not in tools", Chat(Tools("\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}")), "tool_choice" },
        { "tool_choice without a function name", Chat(Tools("\"tool_choice\":{\"type\":\"function\"}")), "tool_choice.function.name" },
        { "tool_choice of another type", Chat(Tools("\"tool_choice\":{\"type\":\"allowed_tools\"}")), "tool_choice.type" },
        { "tool_choice a number", Chat(Tools("\"tool_choice\":3")), "tool_choice" },
        { "parallel_tool_calls without tools", Chat("\"parallel_tool_calls\":false"), "parallel_tool_calls" },
        { "parallel_tool_calls a string", Chat(Tools("\"parallel_tool_calls\":\"no\"")), "parallel_tool_calls" },
        { "response_format a string", Chat("\"response_format\":\"json\""), "response_format" },
        { "response_format unknown type", Chat("\"response_format\":{\"type\":\"xml\"}"), "response_format.type" },
        { "response_format without type", Chat("\"response_format\":{}"), "response_format.type" },
        { "json_schema without json_schema", Chat("\"response_format\":{\"type\":\"json_schema\"}"), "response_format.json_schema" },
        { "json_schema without name", Chat("\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{}}}"), "response_format.json_schema.name" },
        { "json_schema bad name", Chat("\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"a b\"}}"), "response_format.json_schema.name" },
        { "json_schema schema an array", Chat("\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"a\",\"schema\":[]}}"), "response_format.json_schema.schema" },
        { "json_schema strict a string", Chat("\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"a\",\"strict\":\"1\"}}"), "response_format.json_schema.strict" },
        { "sim_tool_calls 0", Chat("\"sim_tool_calls\":0"), "sim_tool_calls" },
        { "sim_tool_calls 1000", Chat("\"sim_tool_calls\":1000"), "sim_tool_calls" },
        { "sim_tool_calls a string", Chat("\"sim_tool_calls\":\"two\""), "sim_tool_calls" },
        { "tool message without tool_call_id", Chat(Tools(), $"{User},{Calls},{{\"role\":\"tool\",\"content\":\"sunny\"}}"), "messages[2].tool_call_id" },
        { "tool message answering no call", Chat(Tools(), $"{User},{Calls},{{\"role\":\"tool\",\"tool_call_id\":\"call_9\",\"content\":\"sunny\"}}"), "messages[2].tool_call_id" },
        { "tool message with no assistant call before it", Chat("", $"{User},{{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny\"}}"), "messages[1].tool_call_id" },
        { "a call left unanswered", Chat(Tools(), $"{User},{Calls},{User}"), "messages[1].tool_calls" },
        { "a call left unanswered at the end", Chat(Tools(), $"{User},{Calls}"), "messages[1].tool_calls" },
        { "tool_calls on a user message", Chat("", "{\"role\":\"user\",\"content\":\"hi\",\"tool_calls\":[]}"), "messages[0].tool_calls" },
        { "tool_calls not an array", Chat("", $"{User},{{\"role\":\"assistant\",\"tool_calls\":\"x\"}}"), "messages[1].tool_calls" },
        { "tool_calls empty", Chat("", $"{User},{{\"role\":\"assistant\",\"tool_calls\":[]}}"), "messages[1].tool_calls" },
        { "tool call without id", Chat("", $"{User},{{\"role\":\"assistant\",\"tool_calls\":[{{\"type\":\"function\",\"function\":{{\"name\":\"f\",\"arguments\":\"{{}}\"}}}}]}}"), "messages[1].tool_calls[0].id" },
        { "tool call arguments an object", Chat("", $"{User},{{\"role\":\"assistant\",\"tool_calls\":[{{\"id\":\"c\",\"type\":\"function\",\"function\":{{\"name\":\"f\",\"arguments\":{{}}}}}}]}}"), "messages[1].tool_calls[0].function.arguments" },
        { "tool call of another type", Chat("", $"{User},{{\"role\":\"assistant\",\"tool_calls\":[{{\"id\":\"c\",\"type\":\"custom\",\"function\":{{\"name\":\"f\",\"arguments\":\"{{}}\"}}}}]}}"), "messages[1].tool_calls[0].type" },
        { "text part without text", Chat("", "{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}"), "messages[0].content[0].text" },
        { "unknown part type", Chat("", "{\"role\":\"user\",\"content\":[{\"type\":\"video\"}]}"), "messages[0].content[0].type" },
        { "a refusal part from the user", Chat("", "{\"role\":\"user\",\"content\":[{\"type\":\"refusal\",\"refusal\":\"no\"}]}"), "messages[0].content[0].type" },
        { "part not an object", Chat("", "{\"role\":\"user\",\"content\":[\"hi\"]}"), "messages[0].content[0]" },
        { "name a number", Chat("", "{\"role\":\"user\",\"content\":\"hi\",\"name\":5}"), "messages[0].name" },
        { "deprecated functions", Chat("\"functions\":[{\"name\":\"f\"}]"), "functions" },
        { "deprecated function_call", Chat("\"function_call\":\"auto\""), "function_call" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task A_malformed_agent_field_is_a_400_naming_it(string what, string body, string param)
    {
        await using var server = await TestServer.StartAsync();
        var (status, error) = await PostAsync(server, body);
        Assert.True(status == HttpStatusCode.BadRequest, $"{what}: got {(int)status} {error}");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("code").GetString()));
    }

    [Theory]
    [InlineData("image_url", "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AAAA\"}}")]
    [InlineData("input_audio", "{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"AAAA\",\"format\":\"wav\"}}")]
    [InlineData("file", "{\"type\":\"file\",\"file\":{\"file_id\":\"f\"}}")]
    public async Task An_image_or_audio_part_is_refused_by_name_not_dropped(string type, string part)
    {
        await using var server = await TestServer.StartAsync();
        var (status, error) = await PostAsync(server, Chat("", $"{{\"role\":\"user\",\"content\":[{{\"type\":\"text\",\"text\":\"what is this?\"}},{part}]}}"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("messages[0].content[1].type", error.GetProperty("param").GetString());
        Assert.Equal("unsupported_value", error.GetProperty("code").GetString());
        Assert.StartsWith($"Content part type '{type}' is not supported by model 'sim'", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tools")]
    [InlineData("tool_choice")]
    [InlineData("response_format")]
    public async Task Tool_fields_on_plain_completions_are_refused(string field)
    {
        await using var server = await TestServer.StartAsync();
        var value = field switch { "tools" => $"[{Weather}]", "tool_choice" => "\"auto\"", _ => "{\"type\":\"json_object\"}" };
        var (status, error) = await PostAsync(server, $"{{\"model\":\"sim\",\"prompt\":\"hi\",\"{field}\":{value}}}", "/v1/completions");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(field, error.GetProperty("param").GetString());
    }

    [Theory]
    [InlineData("text parts", "", "{\"role\":\"system\",\"content\":[{\"type\":\"text\",\"text\":\"be brief\"}]},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"},{\"type\":\"text\",\"text\":\" there\"}]}")]
    [InlineData("tool_choice none", "TOOLS,\"tool_choice\":\"none\",\"parallel_tool_calls\":false", User)]
    [InlineData("tool_choice auto, strict null, no parameters", "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"ping-1\",\"strict\":null}}],\"tool_choice\":\"auto\"", User)]
    [InlineData("response_format text", "\"response_format\":{\"type\":\"text\"}", User)]
    [InlineData("a whole tool turn", "TOOLS", User + "," + Calls + ",{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":[{\"type\":\"text\",\"text\":\"sunny\"}]},{\"role\":\"assistant\",\"content\":[{\"type\":\"refusal\",\"refusal\":\"no more\"}]},{\"role\":\"user\",\"content\":\"thanks\",\"name\":\"ann\"}")]
    [InlineData("nulls for absent fields", "\"tools\":null,\"tool_choice\":null,\"response_format\":null,\"parallel_tool_calls\":null", User)]
    public async Task Well_formed_agent_requests_are_accepted(string what, string extra, string messages)
    {
        await using var server = await TestServer.StartAsync();
        using var response = await server.Client.PostAsync("/v1/chat/completions", Content(Chat(extra.Replace("TOOLS", Tools(), StringComparison.Ordinal), messages)));
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{what}: {await response.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task Every_agent_field_reaches_the_backend()
    {
        var backend = new CapturingBackend();
        await using var server = await TestServer.StartAsync(configure: b => b.Services.AddSingleton(new ModelEntry("capture", "test", backend)));
        var body = $$$"""
            {"model":"capture","seed":3,"sim_tool_calls":2,
             "tools":[{{{Weather}}},{"type":"function","function":{"name":"get_time","description":"Clock","strict":true}}],
             "tool_choice":{"type":"function","function":{"name":"get_time"}},
             "parallel_tool_calls":false,
             "response_format":{"type":"json_schema","json_schema":{"name":"answer","schema":{"type":"object"},"strict":true}},
             "messages":[{"role":"user","content":[{"type":"text","text":"weather "},{"type":"text","text":"in Oslo?"}],"name":"ann"},
               {{{Calls}}},
               {"role":"tool","tool_call_id":"call_1","content":"sunny"}]}
            """;
        using var response = await server.Client.PostAsync("/v1/chat/completions", Content(body));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var request = Assert.Single(backend.Requests);
        Assert.Equal(["get_weather", "get_time"], request.Tools!.Select(t => t.Name));
        Assert.Equal("object", request.Tools![0].Parameters!.Value.GetProperty("type").GetString());
        Assert.Null(request.Tools![1].Parameters);
        Assert.Equal(("Clock", true), (request.Tools![1].Description, request.Tools![1].Strict));
        Assert.Equal(new ToolChoice(ToolChoiceMode.Function, "get_time"), request.ToolChoice);
        Assert.False(request.ParallelToolCalls);
        Assert.Equal(2, request.SimToolCalls);
        Assert.Equal((ResponseFormatKind.JsonSchema, "answer", true), (request.ResponseFormat!.Kind, request.ResponseFormat.Name, request.ResponseFormat.Strict));
        Assert.Equal("object", request.ResponseFormat.Schema!.Value.GetProperty("type").GetString());

        var messages = request.Messages!;
        Assert.Equal(("user", "weather in Oslo?", "ann"), (messages[0].Role, messages[0].Content, messages[0].Name));
        Assert.Equal(("assistant", ""), (messages[1].Role, messages[1].Content));
        Assert.Equal([new ChatToolCall("call_1", "get_weather", "{\"city\":\"Oslo\"}")], messages[1].ToolCalls!);
        Assert.Equal(("tool", "sunny", "call_1"), (messages[2].Role, messages[2].Content, messages[2].ToolCallId));
    }

    [Fact]
    public async Task Without_agent_fields_the_backend_gets_the_defaults()
    {
        var backend = new CapturingBackend();
        await using var server = await TestServer.StartAsync(configure: b => b.Services.AddSingleton(new ModelEntry("capture", "test", backend)));
        using var response = await server.Client.PostAsync("/v1/chat/completions", Content(Chat().Replace("\"sim\"", "\"capture\"", StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var request = Assert.Single(backend.Requests);
        Assert.Null(request.Tools);
        Assert.Null(request.ToolChoice);
        Assert.Null(request.ResponseFormat);
        Assert.True(request.ParallelToolCalls);
        Assert.Equal(1, request.SimToolCalls);
    }

    private static StringContent Content(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task<(HttpStatusCode Status, JsonElement Error)> PostAsync(TestServer server, string body, string path = "/v1/chat/completions")
    {
        using var response = await server.Client.PostAsync(path, Content(body));
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (response.StatusCode, json.TryGetProperty("error", out var error) ? error : json);
    }

    /// <summary>Records each request it is given and answers with one word.</summary>
    private sealed class CapturingBackend : IModelBackend
    {
        public List<BackendRequest> Requests { get; } = [];

        public async IAsyncEnumerable<TokenPiece> GenerateAsync(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            lock (Requests)
            {
                Requests.Add(request);
            }

            await Task.Yield();
            yield return new TokenPiece("ok"u8.ToArray());
        }
    }
}
