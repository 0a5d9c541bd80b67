using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Streams;

namespace Tokenflow.Upstreams.Tests;

public sealed class ChatClientBackendTests
{
    [Fact]
    public async Task A_hosts_IChatClient_is_a_model_with_its_text_reasoning_tool_calls_usage_and_finish_reason()
    {
        var client = new ScriptedChatClient();
        await using var server = await TestServer.StartAsync(configure: b => b.Services.AddTokenflowCore().AddChatClient("host-ai", client, upstreamModelId: "inner-model"));

        using var response = await Gateway.PostAsync(server, Gateway.Chat("host-ai", maxTokens: 42));
        var events = await Gateway.ReadEventsAsync(response);

        Assert.Equal("tool_calls", Gateway.FinishReason(events));
        var usage = Gateway.Usage(events);
        Assert.Equal(11, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(7, usage.GetProperty("completion_tokens").GetInt32());
        var log = await Gateway.LogAsync(server, response.Headers.GetValues("X-Stream-Id").Single());
        Assert.Equal("Hello, wörld", Gateway.Channel(log, DeltaChannel.Content));
        Assert.Equal("pondering", Gateway.Channel(log, DeltaChannel.Reasoning));
        var call = Assert.Single(log, e => e.ToolCallId is not null);
        Assert.Equal(("call_9", "lookup"), (call.ToolCallId, call.ToolName));
        Assert.Equal("""{"q":"x"}""", Gateway.Channel(log, DeltaChannel.ToolCall, 0));

        Assert.Equal("inner-model", client.Options?.ModelId);
        Assert.Equal(42, client.Options?.MaxOutputTokens);
        Assert.Equal("Hello", Assert.Single(client.Messages!).Text);
    }

    private sealed class ScriptedChatClient : IChatClient
    {
        public ChatOptions? Options { get; private set; }

        public List<ChatMessage>? Messages { get; private set; }

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
            => throw new NotSupportedException();

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            Messages = [.. messages];
            Options = options;
            await Task.Yield();
            yield return new ChatResponseUpdate(ChatRole.Assistant, [new TextReasoningContent("pondering")]);
            yield return new ChatResponseUpdate(ChatRole.Assistant, "Hello, ");
            yield return new ChatResponseUpdate(ChatRole.Assistant, "wörld");
            yield return new ChatResponseUpdate(ChatRole.Assistant, [new FunctionCallContent("call_9", "lookup", new Dictionary<string, object?> { ["q"] = "x" })]);
            yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(new UsageDetails { InputTokenCount = 11, OutputTokenCount = 7 })]) { FinishReason = ChatFinishReason.ToolCalls };
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
