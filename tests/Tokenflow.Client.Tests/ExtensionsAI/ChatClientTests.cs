using Microsoft.Extensions.AI;
using Tokenflow.Client.Tests.Streaming;
using Tokenflow.Core.Sim;

namespace Tokenflow.Client.Tests.ExtensionsAI;

public sealed class ChatClientTests
{
    private static readonly ChatMessage[] Hello = [new(ChatRole.User, "Hello")];

    [Fact]
    public async Task Streaming_updates_carry_text_finish_reason_and_usage()
    {
        await using var server = await TestServer.StartAsync();
        using IChatClient chat = new TokenflowChatClient(server.Address, "sim");
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync(Hello, new ChatOptions { MaxOutputTokens = 30, Seed = 8 }))
        {
            updates.Add(update);
        }

        Assert.Equal(SimBackend.ExpectedText(8, 30), string.Concat(updates.Select(u => u.Text)));
        Assert.All(updates, u => Assert.Equal(ChatRole.Assistant, u.Role));
        Assert.All(updates, u => Assert.StartsWith("chatcmpl-", u.ResponseId, StringComparison.Ordinal));
        Assert.Equal(ChatFinishReason.Length, updates.Single(u => u.FinishReason is not null).FinishReason);
        var usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().Single().Details;
        Assert.Equal(30, usage.OutputTokenCount);
        Assert.True(usage.InputTokenCount > 0);
        Assert.Equal(usage.InputTokenCount + usage.OutputTokenCount, usage.TotalTokenCount);
        Assert.All(updates, u => Assert.Null(u.ContinuationToken));
    }

    [Fact]
    public async Task GetResponseAsync_assembles_the_text_with_usage_and_finish_reason()
    {
        await using var server = await TestServer.StartAsync();
        using var client = new TokenflowClient(server.Address);
        var chat = client.AsIChatClient("sim");
        var response = await chat.GetResponseAsync(Hello, new ChatOptions { MaxOutputTokens = 20, Seed = 2, Instructions = "Be brief." });

        Assert.Equal(SimBackend.ExpectedText(2, 20), response.Text);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(20, response.Usage!.OutputTokenCount);
        Assert.Equal("sim", response.ModelId);
        Assert.Same(client, chat.GetService<TokenflowClient>());
        Assert.Equal("tokenflow", chat.GetService<ChatClientMetadata>()!.ProviderName);
    }

    [Fact]
    public async Task Cancelling_a_streaming_response_cancels_the_generation()
    {
        await using var server = await TestServer.StartAsync();
        using var client = new TokenflowClient(server.Address);
        var chat = client.AsIChatClient("sim");
        var options = new ChatOptions { AdditionalProperties = new() { ["sim_tokens_per_second"] = 200, ["resume_grace_ms"] = 60_000 } };
        using var cts = new CancellationTokenSource();
        string? responseId = null;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in chat.GetStreamingResponseAsync(Hello, options, cts.Token))
            {
                responseId = update.ResponseId;
                await cts.CancelAsync();
            }
        });

        Assert.Equal("cancelled", (await CancelTests.WaitForEndAsync(client, responseId!)).Status);
    }

    [Fact]
    public async Task A_background_response_resumes_from_its_continuation_token()
    {
        await using var server = await TestServer.StartAsync();
        using IChatClient chat = new TokenflowChatClient(server.Address, "sim");
        var options = new ChatOptions { MaxOutputTokens = 60, Seed = 5, AllowBackgroundResponses = true, AdditionalProperties = new() { ["sim_tokens_per_second"] = 500 } };
        var text = new System.Text.StringBuilder();
        ResponseContinuationToken? token = null;
        await foreach (var update in chat.GetStreamingResponseAsync(Hello, options))
        {
            text.Append(update.Text);
            token = update.ContinuationToken;
            if (text.Length > 20)
            {
                break;
            }
        }

        // The token survives serialization, as an app that restarts would keep it.
        var saved = ResponseContinuationToken.FromBytes(token!.ToBytes().ToArray());
        ChatFinishReason? finish = null;
        await foreach (var update in chat.GetStreamingResponseAsync([], new ChatOptions { ContinuationToken = saved }))
        {
            text.Append(update.Text);
            finish = update.FinishReason ?? finish;
        }

        Assert.Equal(SimBackend.ExpectedText(5, 60), text.ToString());
        Assert.Equal(ChatFinishReason.Length, finish);
    }
}
