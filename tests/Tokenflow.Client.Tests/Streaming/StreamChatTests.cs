using System.Text;
using Tokenflow.Core.Sim;

namespace Tokenflow.Client.Tests.Streaming;

public sealed class StreamChatTests
{
    [Fact]
    public async Task Events_carry_text_seq_stream_id_finish_reason_and_usage()
    {
        await using var server = await TestServer.StartAsync();
        using var client = new TokenflowClient(new Uri(server.Address, "/v1"));
        var events = new List<ChatStreamEvent>();
        await foreach (var e in client.StreamChatAsync(new ChatRequest { Model = "sim", Messages = [ChatRequestMessage.User("hi")], MaxTokens = 25, Seed = 4 }))
        {
            events.Add(e);
        }

        Assert.Equal(SimBackend.ExpectedText(4, 25), string.Concat(events.Select(e => e.Text)));
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Seq));
        Assert.All(events, e => Assert.StartsWith("chatcmpl-", e.StreamId, StringComparison.Ordinal));
        Assert.All(events, e => Assert.Equal("sim", e.Model));
        Assert.Equal("length", events[^2].FinishReason);
        Assert.Equal(25, events[^1].Usage!.CompletionTokens);
        Assert.True(events[^1].Usage!.PromptTokens > 0);
        Assert.NotNull(events[^1].Usage!.TimeToFirstToken);

        var status = await client.GetStreamAsync(events[0].StreamId!);
        Assert.Equal("completed", status.Status);
        Assert.Equal(events[^1].Seq, status.LastSeq);
        Assert.Contains("sim", await client.GetModelsAsync());
    }

    [Fact]
    public async Task Errors_before_the_stream_become_TokenflowException_with_the_OpenAI_fields()
    {
        await using var server = await TestServer.StartAsync();
        using var client = new TokenflowClient(server.Address);
        var error = await Assert.ThrowsAsync<TokenflowException>(async () =>
        {
            await foreach (var _ in client.StreamChatAsync(ChatRequest.FromPrompt("no-such-model", "hi")))
            {
            }
        });
        Assert.Equal(404, error.StatusCode);
        Assert.Equal("model_not_found", error.Code);

        var invalid = await Assert.ThrowsAsync<TokenflowException>(async () =>
        {
            await foreach (var _ in client.StreamChatAsync(new ChatRequest { Model = "sim", Messages = [ChatRequestMessage.User("hi")], Temperature = 9 }))
            {
            }
        });
        Assert.Equal(400, invalid.StatusCode);
        Assert.Equal("temperature", invalid.Param);

        var missing = await Assert.ThrowsAsync<TokenflowException>(() => client.GetStreamAsync("chatcmpl-0000000000000000000000"));
        Assert.Equal(404, missing.StatusCode);
    }

    [Fact]
    public async Task Extension_fields_and_stop_sequences_reach_the_server()
    {
        await using var server = await TestServer.StartAsync();
        using var client = new TokenflowClient(server.Address);
        var full = SimBackend.ExpectedText(11, 60);
        var stop = full.Substring(full.Length / 2, 4);
        var request = new ChatRequest { Model = "sim", Messages = [ChatRequestMessage.User("hi")], MaxTokens = 60, Seed = 11, Stop = [stop] };
        request.AdditionalProperties["sim_ttft_ms"] = 50;
        var text = new StringBuilder();
        string? finish = null;
        await foreach (var e in client.StreamChatAsync(request))
        {
            text.Append(e.Text);
            finish ??= e.FinishReason;
        }

        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], text.ToString());
        Assert.Equal("stop", finish);
    }
}
