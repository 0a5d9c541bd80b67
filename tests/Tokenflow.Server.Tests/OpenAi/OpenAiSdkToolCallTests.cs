using System.ClientModel;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using OpenAI;
using OpenAI.Chat;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Sim;

namespace Tokenflow.Server.Tests.OpenAi;

/// <summary>
/// The official OpenAI .NET SDK (2.15) against <c>sim</c>: it streams tool calls, its own
/// accumulation of the fragments gives the simulator's calls, and the conversation with the tool
/// results (sent the way the SDK serializes them) continues.
/// </summary>
public sealed class OpenAiSdkToolCallTests
{
    private static ChatClient Client(TestServer server)
        => new("sim", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(server.Address, "/v1"), NetworkTimeout = TimeSpan.FromSeconds(60) });

    private static ChatCompletionOptions Options(long seed, ChatToolChoice choice)
    {
        var options = new ChatCompletionOptions
        {
            ToolChoice = choice,
            Tools =
            {
                ChatTool.CreateFunctionTool("get_weather", "Weather for a city", BinaryData.FromString(SimToolCallHttpTests.WeatherSchema)),
                ChatTool.CreateFunctionTool("place_order", "Order things", BinaryData.FromString(SimToolCallHttpTests.OrderSchema), functionSchemaIsStrict: true),
            },
        };
#pragma warning disable OPENAI001 // Seed is marked experimental in the SDK.
        options.Seed = seed;
#pragma warning restore OPENAI001
        return options;
    }

    [Fact]
    public async Task The_sdk_streams_a_forced_tool_call_from_tokenflow_tiny_that_validates_and_matches_the_non_streamed_call()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:EmbeddedModel", "true"]);
        var client = new ChatClient("tokenflow-tiny", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(server.Address, "/v1"), NetworkTimeout = TimeSpan.FromSeconds(60) });
        const string schema = """{"type":"object","properties":{"city":{"type":"string","maxLength":12},"days":{"type":"integer","minimum":1,"maximum":14}},"required":["city","days"],"additionalProperties":false}""";
        var validator = JsonSchema.FromText(schema);
        for (var seed = 1L; seed <= 3; seed++)
        {
            var options = new ChatCompletionOptions
            {
                ToolChoice = ChatToolChoice.CreateFunctionChoice("get_weather"),
                Tools = { ChatTool.CreateFunctionTool("get_weather", "Weather for a city", BinaryData.FromString(schema)) },
                Temperature = 0.8f,
                MaxOutputTokenCount = 64,
            };
#pragma warning disable OPENAI001 // Seed is marked experimental in the SDK.
            options.Seed = seed;
#pragma warning restore OPENAI001
            var arguments = new StringBuilder();
            string? id = null, name = null;
            ChatFinishReason? finish = null;
            await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Weather in Zürich?")], options))
            {
                foreach (var part in update.ToolCallUpdates)
                {
                    id ??= part.ToolCallId;
                    name ??= part.FunctionName;
                    arguments.Append(part.FunctionArgumentsUpdate?.ToString());
                }

                finish = update.FinishReason ?? finish;
            }

            Assert.Equal(ChatFinishReason.ToolCalls, finish);
            Assert.Equal("get_weather", name);
            Assert.True(validator.Evaluate(JsonNode.Parse(arguments.ToString())).IsValid, $"seed {seed}: {arguments}");
            var whole = (await client.CompleteChatAsync([new UserChatMessage("Weather in Zürich?")], options)).Value;
            var call = Assert.Single(whole.ToolCalls);
            Assert.Equal((id, name, arguments.ToString()), (call.Id, call.FunctionName, call.FunctionArguments.ToString()));
        }
    }

    [Fact]
    public async Task The_sdk_streams_sim_tool_calls_and_continues_with_the_results()
    {
        await using var server = await TestServer.StartAsync();
        var client = Client(server);
        var weather = JsonSchema.FromText(SimToolCallHttpTests.WeatherSchema);
        for (var seed = 0L; seed < 8; seed++)
        {
            List<OpenAI.Chat.ChatMessage> messages = [new UserChatMessage("Weather in Zürich?")];
            var ids = new Dictionary<int, string>();
            var names = new Dictionary<int, string>();
            var arguments = new Dictionary<int, StringBuilder>();
            ChatFinishReason? finish = null;
            await foreach (var update in client.CompleteChatStreamingAsync(messages, Options(seed, ChatToolChoice.CreateRequiredChoice())))
            {
                foreach (var part in update.ToolCallUpdates)
                {
                    if (part.ToolCallId is { } id)
                    {
                        ids[part.Index] = id;
                        names[part.Index] = part.FunctionName;
                    }

                    (arguments.TryGetValue(part.Index, out var sb) ? sb : arguments[part.Index] = new StringBuilder()).Append(part.FunctionArgumentsUpdate?.ToString());
                }

                finish = update.FinishReason ?? finish;
            }

            Assert.Equal(ChatFinishReason.ToolCalls, finish);
            var expected = Assert.Single(SimBackend.ExpectedToolCalls(new BackendRequest
            {
                Model = SimBackend.ModelId,
                Seed = seed,
                Tools = [new ToolDefinition("get_weather", null, JsonDocument.Parse(SimToolCallHttpTests.WeatherSchema).RootElement.Clone()), new ToolDefinition("place_order", null, null)],
                ToolChoice = ToolChoice.Required,
            }));
            Assert.Equal((expected.Id, expected.Name, expected.Arguments), (ids[0], names[0], arguments[0].ToString()));
            Assert.True(weather.Evaluate(JsonNode.Parse(arguments[0].ToString())).IsValid, arguments[0].ToString());

            // The non-streamed call through the SDK parses to the same call.
            var complete = await client.CompleteChatAsync(messages, Options(seed, ChatToolChoice.CreateFunctionChoice("get_weather")));
            Assert.Equal(ChatFinishReason.ToolCalls, complete.Value.FinishReason);
            var call = Assert.Single(complete.Value.ToolCalls);
            Assert.Equal((expected.Id, "get_weather", expected.Arguments), (call.Id, call.FunctionName, call.FunctionArguments.ToString()));

            messages.Add(new AssistantChatMessage(complete.Value.ToolCalls));
            messages.Add(new ToolChatMessage(call.Id, "{\"temperature\":21}"));
            var next = await client.CompleteChatAsync(messages, new ChatCompletionOptions { MaxOutputTokenCount = 6, Tools = { ChatTool.CreateFunctionTool("get_weather") } });
            Assert.Equal(ChatFinishReason.Length, next.Value.FinishReason);
            Assert.Empty(next.Value.ToolCalls);
            Assert.False(string.IsNullOrEmpty(next.Value.Content[0].Text));
        }
    }
}
