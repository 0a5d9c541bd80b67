using Anthropic;
using Anthropic.Models.Messages;

namespace Tokenflow.Server.Tests.Anthropic;

/// <summary>The official Anthropic .NET SDK (13.14) against <c>POST /v1/messages</c>: streaming and not.</summary>
public sealed class AnthropicSdkTests
{
    [Fact]
    public async Task The_sdk_streams_a_message_and_creates_one_with_exact_usage()
    {
        await using var server = await TestServer.StartAsync();
        var client = new AnthropicClient { ApiKey = "unused", BaseUrl = server.Address.ToString().TrimEnd('/'), MaxRetries = 0 };
        var parameters = new MessageCreateParams { MaxTokens = 20, Messages = [new UserMessageParam("Hello")], Model = "sim" };

        var text = string.Empty;
        long? outputTokens = null;
        var starts = 0;
        await foreach (var e in client.Messages.CreateStreaming(parameters))
        {
            if (e.TryPickContentBlockStart(out _))
            {
                starts++;
            }

            if (e.TryPickContentBlockDelta(out var delta) && delta.Delta.TryPickText(out var piece))
            {
                text += piece.Text;
            }

            if (e.TryPickDelta(out var messageDelta))
            {
                outputTokens = messageDelta.Usage.OutputTokens;
            }
        }

        Assert.Equal(1, starts);
        Assert.NotEmpty(text.Trim());
        Assert.Equal(20, outputTokens);

        var message = await client.Messages.Create(parameters);
        Assert.StartsWith("msg_", message.ID);
        Assert.True(message.Content[0].TryPickText(out var whole));
        Assert.NotEmpty(whole!.Text.Trim());
        Assert.Contains("max_tokens", message.StopReason!.ToString());
        Assert.Equal(20, message.Usage.OutputTokens);
    }
}
