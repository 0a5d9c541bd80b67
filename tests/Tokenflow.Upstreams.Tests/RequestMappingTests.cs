using System.Text.Json;
using Tokenflow.Core.Backends;
using Tokenflow.Upstreams.Protocols;

namespace Tokenflow.Upstreams.Tests;

/// <summary>What each protocol sends for a request with tools, tool results and a response format.</summary>
public sealed class RequestMappingTests
{
    private static readonly JsonElement Schema = JsonDocument.Parse("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""").RootElement;

    private static BackendRequest Request(int maxTokens = 64) => new()
    {
        Model = "x",
        MaxTokens = maxTokens,
        Temperature = 0.5f,
        Seed = 7,
        Messages =
        [
            new ChatMessage("system", "Be brief."),
            new ChatMessage("user", "Weather in Paris and Rome?"),
            new ChatMessage("assistant", string.Empty) { ToolCalls = [new ChatToolCall("call_1", "get_weather", """{"city":"Paris"}"""), new ChatToolCall("call_2", "get_weather", """{"city":"Rome"}""")] },
            new ChatMessage("tool", "sunny") { ToolCallId = "call_1" },
            new ChatMessage("tool", "rain") { ToolCallId = "call_2" },
        ],
        Tools = [new ToolDefinition("get_weather", "Current weather", Schema, Strict: true)],
        ToolChoice = new ToolChoice(ToolChoiceMode.Function, "get_weather"),
        ParallelToolCalls = false,
        Stop = ["\n\nUser:", "END"],
    };

    private static async Task<(string Path, JsonElement Body)> SentAsync(UpstreamProtocol protocol, string baseUrl, BackendRequest request)
    {
        using var message = protocol.CreateGenerateRequest(new Uri(baseUrl), request, "upstream-id");
        return (message.RequestUri!.AbsolutePath, JsonDocument.Parse(await message.Content!.ReadAsStringAsync()).RootElement);
    }

    [Fact]
    public async Task OpenAI_gets_tools_tool_choice_tool_messages_and_usage_asked_for()
    {
        var (path, body) = await SentAsync(new OpenAiProtocol(new Uri("http://h/v1/")), "http://h/v1/", Request());

        Assert.Equal("/v1/chat/completions", path);
        Assert.Equal("upstream-id", body.GetProperty("model").GetString());
        Assert.True(body.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        Assert.Equal(64, body.GetProperty("max_tokens").GetInt32());
        Assert.Equal(7, body.GetProperty("seed").GetInt32());
        Assert.Equal(["\n\nUser:", "END"], body.GetProperty("stop").EnumerateArray().Select(e => e.GetString()));
        var tool = body.GetProperty("tools")[0];
        Assert.Equal("function", tool.GetProperty("type").GetString());
        Assert.Equal("get_weather", tool.GetProperty("function").GetProperty("name").GetString());
        Assert.True(tool.GetProperty("function").GetProperty("strict").GetBoolean());
        Assert.Equal("get_weather", body.GetProperty("tool_choice").GetProperty("function").GetProperty("name").GetString());
        Assert.False(body.GetProperty("parallel_tool_calls").GetBoolean());
        var messages = body.GetProperty("messages");
        Assert.Equal(JsonValueKind.Null, messages[2].GetProperty("content").ValueKind);
        Assert.Equal("""{"city":"Rome"}""", messages[2].GetProperty("tool_calls")[1].GetProperty("function").GetProperty("arguments").GetString());
        Assert.Equal("call_2", messages[4].GetProperty("tool_call_id").GetString());
    }

    [Fact]
    public async Task OpenAI_proper_gets_max_completion_tokens_and_zero_means_the_upstreams_default()
    {
        var (_, official) = await SentAsync(new OpenAiProtocol(new Uri("https://api.openai.com/v1/")), "https://api.openai.com/v1/", Request());
        Assert.Equal(64, official.GetProperty("max_completion_tokens").GetInt32());

        var (_, unlimited) = await SentAsync(new OpenAiProtocol(new Uri("http://h/v1/")), "http://h/v1/", Request(maxTokens: 0));
        Assert.False(unlimited.TryGetProperty("max_tokens", out _));
    }

    [Fact]
    public async Task Anthropic_gets_system_apart_tool_use_blocks_merged_tool_results_and_a_forced_tool()
    {
        var (path, body) = await SentAsync(new AnthropicProtocol(), "https://api.anthropic.com/", Request(maxTokens: 0));

        Assert.Equal("/v1/messages", path);
        Assert.Equal(AnthropicProtocol.DefaultMaxTokens, body.GetProperty("max_tokens").GetInt32());
        Assert.Equal("Be brief.", body.GetProperty("system").GetString());
        Assert.Equal(["\n\nUser:", "END"], body.GetProperty("stop_sequences").EnumerateArray().Select(e => e.GetString()));
        var messages = body.GetProperty("messages");
        Assert.Equal(3, messages.GetArrayLength());
        var toolUse = messages[1].GetProperty("content")[1];
        Assert.Equal(("tool_use", "call_2", "Rome"), (toolUse.GetProperty("type").GetString(), toolUse.GetProperty("id").GetString(), toolUse.GetProperty("input").GetProperty("city").GetString()));
        var results = messages[2].GetProperty("content");
        Assert.Equal("user", messages[2].GetProperty("role").GetString());
        Assert.Equal(["call_1", "call_2"], results.EnumerateArray().Select(r => r.GetProperty("tool_use_id").GetString()));
        Assert.Equal("city", body.GetProperty("tools")[0].GetProperty("input_schema").GetProperty("required")[0].GetString());
        var choice = body.GetProperty("tool_choice");
        Assert.Equal(("tool", "get_weather"), (choice.GetProperty("type").GetString(), choice.GetProperty("name").GetString()));
        Assert.True(choice.GetProperty("disable_parallel_tool_use").GetBoolean());
    }

    [Fact]
    public async Task Ollama_gets_options_tools_and_tool_call_arguments_as_objects()
    {
        var request = Request();
        var (path, body) = await SentAsync(new OllamaProtocol(), "http://127.0.0.1:11434/", request);

        Assert.Equal("/api/chat", path);
        Assert.Equal(64, body.GetProperty("options").GetProperty("num_predict").GetInt32());
        Assert.Equal(7, body.GetProperty("options").GetProperty("seed").GetInt32());
        Assert.Equal(["\n\nUser:", "END"], body.GetProperty("options").GetProperty("stop").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("get_weather", body.GetProperty("tools")[0].GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("Paris", body.GetProperty("messages")[2].GetProperty("tool_calls")[0].GetProperty("function").GetProperty("arguments").GetProperty("city").GetString());

        var (generate, prompt) = await SentAsync(new OllamaProtocol(), "http://127.0.0.1:11434/", new BackendRequest { Model = "x", Prompt = "Once" });
        Assert.Equal("/api/generate", generate);
        Assert.Equal("Once", prompt.GetProperty("prompt").GetString());
        Assert.False(prompt.GetProperty("options").TryGetProperty("stop", out _));
    }
}
