using System.Text;
using Tokenflow.Client.Tests.Streaming;
using Tokenflow.Core.Sim;

namespace Tokenflow.Client.Tests.WebSockets;

public sealed class WebSocketClientTests
{
    private static ChatRequest Request(long seed, int tokens, double tokensPerSecond = 0) => new()
    {
        Model = "sim",
        Messages = [ChatRequestMessage.User("hi")],
        MaxTokens = tokens,
        Seed = seed,
        AdditionalProperties = { ["sim_tokens_per_second"] = tokensPerSecond },
    };

    private static async Task<(string Text, List<ChatStreamEvent> Events)> ReadAllAsync(TokenflowWebSocketClient client, ChatRequest request)
    {
        var events = new List<ChatStreamEvent>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(45));
        await foreach (var e in client.StreamChatAsync(request, timeout.Token))
        {
            events.Add(e);
        }

        return (string.Concat(events.Select(e => e.Text)), events);
    }

    [Fact]
    public async Task Streams_multiplexed_on_one_socket_carry_the_same_events_as_SSE()
    {
        await using var server = await TestServer.StartAsync();
        await using var socket = new TokenflowWebSocketClient(server.Address);
        var runs = await Task.WhenAll(ReadAllAsync(socket, Request(21, 50, 2000)), ReadAllAsync(socket, Request(22, 70, 2000)));

        Assert.Equal(SimBackend.ExpectedText(21, 50), runs[0].Text);
        Assert.Equal(SimBackend.ExpectedText(22, 70), runs[1].Text);
        foreach (var (_, events) in runs)
        {
            Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Seq));
            Assert.Equal("length", events.Single(e => e.FinishReason is not null).FinishReason);
            Assert.NotNull(events[^1].Usage);
        }

        Assert.NotEqual(runs[0].Events[0].StreamId, runs[1].Events[0].StreamId);
    }

    [Fact]
    public async Task Cancelling_a_read_sends_cancel_for_its_stream()
    {
        await using var server = await TestServer.StartAsync();
        await using var socket = new TokenflowWebSocketClient(server.Address);
        using var http = new TokenflowClient(server.Address);
        using var cts = new CancellationTokenSource();
        string? streamId = null;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var e in socket.StreamChatAsync(CancelTests.LongRequest(), cts.Token))
            {
                streamId = e.StreamId;
                if (e.Seq == 3)
                {
                    await cts.CancelAsync();
                }
            }
        });

        // The socket stays open (other streams may use it), so only the cancel message can stop the stream.
        Assert.Equal("cancelled", (await CancelTests.WaitForEndAsync(http, streamId!)).Status);
        Assert.Equal(SimBackend.ExpectedText(3, 10), (await ReadAllAsync(socket, Request(3, 10))).Text);
    }

    [Fact]
    public async Task A_dropped_socket_is_replaced_and_the_stream_resumed_after_the_last_seq()
    {
        await using var server = await TestServer.StartAsync();
        await using var proxy = new ChaosProxy(server.Address, seed: 99, minBytes: 0, maxBytes: 8000);
        await using var socket = new TokenflowWebSocketClient(proxy.Address, new TokenflowClientOptions { MaxResumeAttempts = 30, ResumeBackoff = TimeSpan.FromMilliseconds(5), MaxResumeBackoff = TimeSpan.FromMilliseconds(50) });

        // The socket carrying "generate" may be cut before "started" arrives; a generate is never repeated
        // (it would start a second generation), so the caller gets an error without a stream id and retries.
        (string Text, List<ChatStreamEvent> Events) run = default;
        for (var attempt = 0; attempt < 10 && run.Events is null; attempt++)
        {
            try
            {
                run = await ReadAllAsync(socket, Request(31, 800, 4000));
            }
            catch (TokenflowException ex) when (ex.StreamId is null)
            {
            }
        }

        Assert.Equal(SimBackend.ExpectedText(31, 800), run.Text);
        Assert.Equal(Enumerable.Range(1, run.Events!.Count).Select(i => (long)i), run.Events.Select(e => e.Seq));
        Assert.True(proxy.Cuts >= 5, $"only {proxy.Cuts} sockets were cut");
    }
}
