using System.Text;
using Tokenflow.Core.Sim;

namespace Tokenflow.Client.Tests.Streaming;

public sealed class ResumeTests
{
    private static ChatRequest Request(long seed, int tokens, double tokensPerSecond) => new()
    {
        Model = "sim",
        Messages = [ChatRequestMessage.User("Tell me everything.")],
        MaxTokens = tokens,
        Seed = seed,
        AdditionalProperties = { ["sim_tokens_per_second"] = tokensPerSecond },
    };

    private static async Task<(string Text, List<long> Seqs, List<ChatStreamEvent> Events)> ReadAllAsync(TokenflowClient client, ChatRequest request)
    {
        var text = new StringBuilder();
        var seqs = new List<long>();
        var events = new List<ChatStreamEvent>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(45));
        await foreach (var e in client.StreamChatAsync(request, timeout.Token))
        {
            text.Append(e.Text);
            seqs.Add(e.Seq);
            events.Add(e);
        }

        return (text.ToString(), seqs, events);
    }

    [Fact]
    public async Task Resume_under_random_disconnects_delivers_the_uninterrupted_text_exactly_once()
    {
        await using var server = await TestServer.StartAsync();
        await using var proxy = new ChaosProxy(server.Address, seed: 1234, minBytes: 0, maxBytes: 6000);
        using var direct = new TokenflowClient(server.Address);
        using var flaky = new TokenflowClient(proxy.Address, new TokenflowClientOptions { MaxResumeAttempts = 30, ResumeBackoff = TimeSpan.FromMilliseconds(5), MaxResumeBackoff = TimeSpan.FromMilliseconds(50) });

        // Several streams at once; paced so that cuts land both in replayed and in live parts of each stream.
        long[] seeds = [1, 2, 3];
        var runs = seeds.Select(async seed =>
        {
            var request = Request(seed, tokens: 1200, tokensPerSecond: 4000);
            var expected = await ReadAllAsync(direct, request);
            var resumed = await ReadAllAsync(flaky, request);
            return (seed, expected, resumed);
        });

        foreach (var (seed, expected, resumed) in await Task.WhenAll(runs))
        {
            Assert.Equal(SimBackend.ExpectedText(seed, 1200), expected.Text);
            Assert.Equal(expected.Text, resumed.Text);

            // Exactly once, in order: 1, 2, 3, … with nothing missing or repeated.
            Assert.Equal(Enumerable.Range(1, resumed.Seqs.Count).Select(i => (long)i), resumed.Seqs);
            Assert.Equal(expected.Seqs.Count, resumed.Seqs.Count);
            Assert.Equal("length", resumed.Events.Single(e => e.FinishReason is not null).FinishReason);
            Assert.Equal(1200, resumed.Events.Single(e => e.Usage is not null).Usage!.CompletionTokens);
            Assert.Single(resumed.Events.Select(e => e.StreamId).Distinct());
        }

        Assert.True(proxy.Cuts >= 20, $"only {proxy.Cuts} connections were cut");
    }

    [Fact]
    public async Task A_stream_that_cannot_be_resumed_fails_after_the_retry_budget()
    {
        await using var server = await TestServer.StartAsync();

        // Every connection is cut right after the response headers: no event ever gets through.
        await using var proxy = new ChaosProxy(server.Address, seed: 7, minBytes: 0, maxBytes: 1);
        using var client = new TokenflowClient(proxy.Address, new TokenflowClientOptions { MaxResumeAttempts = 3, ResumeBackoff = TimeSpan.FromMilliseconds(5) });
        var error = await Assert.ThrowsAsync<TokenflowException>(async () =>
        {
            await foreach (var _ in client.StreamChatAsync(Request(5, 50, 0)))
            {
            }
        });
        Assert.Contains("3 reconnects", error.Message, StringComparison.Ordinal);
        Assert.StartsWith("chatcmpl-", error.StreamId, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ResumeStreamAsync_reads_an_existing_stream_after_a_seq()
    {
        await using var server = await TestServer.StartAsync();
        using var client = new TokenflowClient(server.Address);
        var all = await ReadAllAsync(client, Request(9, 40, 0));
        var streamId = all.Events[0].StreamId!;

        var rest = new StringBuilder();
        var seqs = new List<long>();
        await foreach (var e in client.ResumeStreamAsync(streamId, afterSeq: 10))
        {
            rest.Append(e.Text);
            seqs.Add(e.Seq);
        }

        Assert.Equal(11, seqs[0]);
        Assert.Equal(all.Seqs[^1], seqs[^1]);
        Assert.Equal(string.Concat(all.Events.Where(e => e.Seq > 10).Select(e => e.Text)), rest.ToString());
    }
}
