using System.Text.Json;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Sim;
using Tokenflow.Server.Tests.OpenAi;

namespace Tokenflow.Server.Tests.Mcp;

/// <summary>The MCP <c>generate</c> tool takes the chat request's agent fields and checks them the same way.</summary>
public sealed class McpToolCallTests
{
    private static readonly object Tools = JsonSerializer.Deserialize<JsonElement>($$$"""
        [{"type":"function","function":{"name":"get_weather","parameters":{{{SimToolCallHttpTests.WeatherSchema}}}}},
         {"type":"function","function":{"name":"place_order","parameters":{{{SimToolCallHttpTests.OrderSchema}}}}}]
        """);

    [Fact]
    public async Task Generate_with_forced_tools_returns_the_sim_tool_calls()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await McpTestClient.ConnectAsync(server);
        var result = await client.CallAsync("generate", new
        {
            model = "sim",
            seed = 4,
            sim_tool_calls = 2,
            tool_choice = "required",
            tools = Tools,
            messages = new object[] { new { role = "user", content = new[] { new { type = "text", text = "Weather in Oslo?" } } } },
        });

        Assert.NotEqual(true, result.IsError);
        var structured = result.Structured();
        Assert.Equal("tool_calls", structured.GetProperty("finish_reason").GetString());
        var expected = SimBackend.ExpectedToolCalls(new BackendRequest
        {
            Model = "sim",
            Seed = 4,
            SimToolCalls = 2,
            ToolChoice = ToolChoice.Required,
            Tools =
            [
                new ToolDefinition("get_weather", null, JsonDocument.Parse(SimToolCallHttpTests.WeatherSchema).RootElement.Clone()),
                new ToolDefinition("place_order", null, JsonDocument.Parse(SimToolCallHttpTests.OrderSchema).RootElement.Clone()),
            ],
        });
        var calls = structured.GetProperty("tool_calls").EnumerateArray()
            .Select(c => new ChatToolCall(c.GetProperty("id").GetString()!, c.GetProperty("name").GetString()!, c.GetProperty("arguments").GetString()!));
        Assert.Equal(expected, calls);
    }

    [Fact]
    public async Task Read_stream_returns_the_tool_call_fragments_of_a_started_generation()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await McpTestClient.ConnectAsync(server);
        var id = (await client.CallAsync("start_generation", new
        {
            model = "sim",
            seed = 4,
            sim_tool_calls = 2,
            tool_choice = "required",
            tools = Tools,
            messages = new object[] { new { role = "user", content = "Weather in Oslo?" } },
        })).Structured().GetProperty("stream_id").GetString()!;

        // Read it in windows as an agent would, joining the fragments of each call by index.
        var calls = new SortedDictionary<int, (string? Id, string? Name, string Arguments)>();
        long after = 0;
        string status;
        do
        {
            var read = (await client.CallAsync("read_stream", new { stream_id = id, after, wait_ms = 5000 })).Structured();
            after = read.GetProperty("last_seq").GetInt64();
            status = read.GetProperty("status").GetString()!;
            if (read.TryGetProperty("tool_calls", out var fragments))
            {
                foreach (var f in fragments.EnumerateArray())
                {
                    var index = f.GetProperty("index").GetInt32();
                    var known = calls.GetValueOrDefault(index, (null, null, ""));
                    calls[index] = (
                        f.TryGetProperty("id", out var callId) ? callId.GetString() : known.Id,
                        f.TryGetProperty("name", out var name) ? name.GetString() : known.Name,
                        known.Arguments + f.GetProperty("arguments").GetString());
                }
            }
        }
        while (status == "running");

        var whole = await client.CallAsync("read_stream", new { stream_id = id });
        Assert.Equal("completed", status);
        var expected = SimBackend.ExpectedToolCalls(new BackendRequest
        {
            Model = "sim",
            Seed = 4,
            SimToolCalls = 2,
            ToolChoice = ToolChoice.Required,
            Tools =
            [
                new ToolDefinition("get_weather", null, JsonDocument.Parse(SimToolCallHttpTests.WeatherSchema).RootElement.Clone()),
                new ToolDefinition("place_order", null, JsonDocument.Parse(SimToolCallHttpTests.OrderSchema).RootElement.Clone()),
            ],
        });
        Assert.Equal(expected, calls.Values.Select(c => new ChatToolCall(c.Id!, c.Name!, c.Arguments)));
        Assert.Equal(2, whole.Structured().GetProperty("tool_calls").GetArrayLength());
    }

    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"tool_choice":"required"}""", "'tool_choice' is only allowed when 'tools' are specified")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"a b"}}]}""", "Invalid 'tools[0].function.name'")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"},{"role":"tool","content":"x"}]}""", "'messages[1].tool_call_id' is required")]
    [InlineData("""{"prompt":"hi","tools":[{"type":"function","function":{"name":"f"}}]}""", "'tools' is only supported on /v1/chat/completions")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"sim_tool_calls":0}""", "'sim_tool_calls' must be between 1 and")]
    public async Task Bad_agent_arguments_are_tool_errors_that_name_the_field(string arguments, string message)
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await McpTestClient.ConnectAsync(server);
        var result = await client.CallToolAsync("generate", JsonSerializer.Deserialize<Dictionary<string, object?>>(arguments)!);
        Assert.True(result.IsError);
        Assert.Contains(message, result.Text(), StringComparison.Ordinal);
    }
}
