using System.Diagnostics;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Tests.OpenAi;

namespace Tokenflow.Server.Tests.Streams;

/// <summary>Runs alone: it measures process-wide memory, which parallel tests would disturb.</summary>
[CollectionDefinition(nameof(SlowReaderTests), DisableParallelization = true)]
public sealed class SlowReaderTestsCollection;

[Collection(nameof(SlowReaderTests))]
public sealed class SlowReaderTests
{
    private const int Tokens = 150_000;

    private static async Task<(string Id, long Bytes, TimeSpan Elapsed)> ReadFastAsync(TestServer server, int seed, Func<string, Task>? onStarted = null)
    {
        var stopwatch = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = ChatCompletionsStreamingTests.Body(new { model = "sim", messages = new[] { new { role = "user", content = "hi" } }, stream = true, max_tokens = Tokens, seed }),
        };
        using var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var id = response.Headers.GetValues("X-Stream-Id").Single();
        if (onStarted is not null)
        {
            await onStarted(id);
        }

        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[64 * 1024];
        long total = 0;
        int read;
        while ((read = await body.ReadAsync(buffer)) > 0)
        {
            total += read;
        }

        return (id, total, stopwatch.Elapsed);
    }

    [Fact]
    public async Task A_stalled_reader_neither_slows_the_fast_reader_nor_grows_memory()
    {
        await using var server = await TestServer.StartAsync();
        var store = server.GetService<MemoryStreamStore>();

        // Baseline: one fast reader alone (also warms up the server).
        _ = await ReadFastAsync(server, 1);
        var baseline = await ReadFastAsync(server, 1);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        var storeBefore = store.BytesInUse;

        HttpResponseMessage? stalled = null;
        var withStall = await ReadFastAsync(server, 1, async id =>
        {
            // A second reader of the same stream that never reads its body.
            stalled = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"/v1/streams/{id}/events"), HttpCompletionOption.ResponseHeadersRead);
        });

        // The model finished although one reader is tens of megabytes behind.
        var status = await store.GetStatusAsync(withStall.Id, CancellationToken.None);
        Assert.Equal(StreamState.Completed, status!.State);
        Assert.Equal(baseline.Bytes, withStall.Bytes);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        var growth = GC.GetTotalMemory(forceFullCollection: true) - memoryBefore;
        var logGrowth = store.BytesInUse - storeBefore;

        // Everything the stalled reader has not read (~withStall.Bytes of SSE) would be held if readers buffered.
        Assert.True(growth < logGrowth + (withStall.Bytes / 4), $"memory grew {growth:N0} B; the log holds {logGrowth:N0} B; the stream is {withStall.Bytes:N0} B");
        Assert.True(withStall.Elapsed < (baseline.Elapsed * 3) + TimeSpan.FromSeconds(2), $"fast reader took {withStall.Elapsed} with a stalled reader, {baseline.Elapsed} alone");
        stalled!.Dispose();
    }
}
