using System.Text.Json;
using Tokenflow.Core.Backends;
using Tokenflow.LlamaCpp.Grammar;
using Tokenflow.LlamaCpp.Inference;

namespace Tokenflow.LlamaCpp.Tests.Backend;

public sealed class PromptBuilderToolTests
{
    [Fact]
    public void Tool_calls_and_tool_results_are_written_into_the_plain_prompt()
    {
        var messages = new[]
        {
            new ChatMessage("user", "Weather in Zoar?"),
            new ChatMessage("assistant", string.Empty) { ToolCalls = [new ChatToolCall("call_1", "get_weather", """{"city":"Zoar"}""")] },
            new ChatMessage("tool", "sunny, 30 degrees") { ToolCallId = "call_1" },
        };

        var text = PromptBuilder.PlainText(messages);

        Assert.Equal("Weather in Zoar?\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Zoar\"}}\nsunny, 30 degrees", text);
    }

    [Fact]
    public void A_forced_tool_call_lists_the_functions_in_a_system_message_first()
    {
        using var parameters = JsonDocument.Parse("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""");
        var tools = new[] { new ToolDefinition("get_weather", "Current weather.", parameters.RootElement.Clone()), new ToolDefinition("other", null, null) };
        var request = new BackendRequest { Model = "m", Tools = tools, ToolChoice = new ToolChoice(ToolChoiceMode.Function, "get_weather") };
        var constraint = OutputConstraint.For(request);

        var messages = PromptBuilder.WithToolInstructions([new ChatMessage("user", "Hi")], tools, constraint);

        Assert.Equal(2, messages.Count);
        Assert.Equal("system", messages[0].Role);
        Assert.Contains("- get_weather: Current weather. Parameters: {\"type\":\"object\"", messages[0].Content);
        Assert.DoesNotContain("other", messages[0].Content);
        Assert.Same(messages, PromptBuilder.WithToolInstructions(messages, tools, null));
    }

    [Fact]
    public void A_named_function_that_is_not_in_tools_is_refused()
    {
        var request = new BackendRequest { Model = "m", Tools = [new ToolDefinition("a", null, null)], ToolChoice = new ToolChoice(ToolChoiceMode.Function, "b") };

        var error = Assert.Throws<SchemaNotSupportedException>(() => OutputConstraint.For(request));

        Assert.Contains("'b'", error.Message);
    }
}
