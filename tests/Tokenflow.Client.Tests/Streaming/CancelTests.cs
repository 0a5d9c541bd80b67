namespace Tokenflow.Client.Tests.Streaming;

public sealed class CancelTests
{
    /// <summary>A long, paced generation; a large grace period, so only an explicit cancel can stop it soon.</summary>
    internal static ChatRequest LongRequest(bool background = false) => new()
    {
        Model = "sim",
        Messages = [ChatRequestMessage.User("Go on forever.")],
        MaxTokens = 1_000_000,
        Background = background ? true : null,
        ResumeGraceMs = 60_000,
        AdditionalProperties = { ["sim_tokens_per_second"] = 200 },
    };

    internal static async Task<TokenflowStream> WaitForEndAsync(TokenflowClient client, string streamId)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var status = await client.GetStreamAsync(streamId);
            if (status.Status != "running" || DateTime.UtcNow > deadline)
            {
                return status;
            }

            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Leaving_the_loop_early_cancels_the_stream_on_the_server()
    {
        await using var server = await TestServer.StartAsync();
        using var client = new TokenflowClient(server.Address);
        string? streamId = null;
        var seen = 0;
        await foreach (var e in client.StreamChatAsync(LongRequest()))
        {
            streamId = e.StreamId;
            if (++seen == 5)
            {
                break;
            }
        }

        // The cancel was sent (and answered) while the enumerator was disposed.
        var status = await client.GetStreamAsync(streamId!);
        Assert.Equal("cancelled", status.Status);
        Assert.True(status.Usage!.CompletionTokens < 1000);
    }

    [Fact]
    public async Task Cancelling_the_token_cancels_the_stream_on_the_server()
    {
        await using var server = await TestServer.StartAsync();
        using var client = new TokenflowClient(server.Address);
        using var cts = new CancellationTokenSource();
        string? streamId = null;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var e in client.StreamChatAsync(LongRequest(), cts.Token))
            {
                streamId = e.StreamId;
                if (e.Seq == 3)
                {
                    await cts.CancelAsync();
                }
            }
        });

        Assert.Equal("cancelled", (await WaitForEndAsync(client, streamId!)).Status);
    }

    [Fact]
    public async Task A_background_stream_keeps_running_when_its_reader_leaves_until_cancelled_explicitly()
    {
        await using var server = await TestServer.StartAsync();
        using var client = new TokenflowClient(server.Address);
        string? streamId = null;
        await foreach (var e in client.StreamChatAsync(LongRequest(background: true)))
        {
            streamId = e.StreamId;
            break;
        }

        Assert.Equal("running", (await client.GetStreamAsync(streamId!)).Status);
        var cancelled = await client.CancelStreamAsync(streamId!);
        Assert.Equal("cancelled", cancelled.Status);

        // A reader of the cancelled stream sees the events so far, then the cancelled finish.
        string? finish = null;
        await foreach (var e in client.ResumeStreamAsync(streamId!))
        {
            finish = e.FinishReason ?? finish;
        }

        Assert.Equal("cancelled", finish);
    }
}
