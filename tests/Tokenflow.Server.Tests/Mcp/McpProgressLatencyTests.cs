using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Sim;
using Xunit.Abstractions;

namespace Tokenflow.Server.Tests.Mcp;

public sealed class McpProgressLatencyTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("Stateless")]
    [InlineData("Stateful")]
    public async Task Progress_notifications_follow_the_tokens_of_a_long_sim_stream_closely(string sessionMode)
    {
        const int tokens = 2000;
        var timed = new TimedBackend(new SimBackend(TimeProvider.System));
        await using var server = await TestServer.StartAsync(["--Tokenflow:Mcp:SessionMode", sessionMode], b => b.Services.AddSingleton(new ModelEntry("timed-sim", "test", timed)));
        await using var client = await McpTestClient.ConnectAsync(server);
        await using var progress = new McpTestClient.ProgressCollector(client);

        var result = await client.CallAsync("generate", new { model = "timed-sim", prompt = "x", max_tokens = tokens, seed = 11, sim_tokens_per_second = 500 }, progress);
        var text = result.Structured().GetProperty("text").GetString()!;
        await progress.WaitUntilAsync(p => p.Text.Length == text.Length, TimeSpan.FromSeconds(30));

        // A delta is released by the first token whose bytes reach its end (a token may end inside a
        // character, which then waits for the next one): match them by byte offset.
        var emitted = timed.Emitted;
        var latencies = new List<double>();
        long offset = 0;
        var token = 0;
        foreach (var (notification, receivedAt) in progress.Received)
        {
            offset += Encoding.UTF8.GetByteCount(notification.Progress.Message!);
            while (emitted[token].EndOffset < offset)
            {
                token++;
            }

            latencies.Add(Stopwatch.GetElapsedTime(emitted[token].Timestamp, receivedAt).TotalMilliseconds);
        }

        latencies.Sort();
        var median = latencies[latencies.Count / 2];
        var p99 = latencies[(int)(latencies.Count * 0.99)];
        output.WriteLine($"{sessionMode}: {latencies.Count} progress notifications for {tokens} tokens at 500 tokens/s: token → client median {median:F2} ms, p99 {p99:F2} ms, max {latencies[^1]:F2} ms");
        Assert.True(median < 100, $"median {median} ms");
    }

    /// <summary>The simulator, recording when each piece leaves the backend and where its bytes end.</summary>
    private sealed class TimedBackend(SimBackend inner) : IModelBackend
    {
        private readonly List<(long EndOffset, long Timestamp)> _emitted = [];

        public IReadOnlyList<(long EndOffset, long Timestamp)> Emitted
        {
            get
            {
                lock (_emitted)
                {
                    return [.. _emitted];
                }
            }
        }

        public async IAsyncEnumerable<TokenPiece> GenerateAsync(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            long offset = 0;
            await foreach (var piece in inner.GenerateAsync(request, cancellationToken))
            {
                offset += piece.Utf8.Length;
                lock (_emitted)
                {
                    _emitted.Add((offset, Stopwatch.GetTimestamp()));
                }

                yield return piece;
            }
        }
    }
}
