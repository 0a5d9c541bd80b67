using ModelContextProtocol;
using ModelContextProtocol.Client;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Mcp;
using Tokenflow.Server.Tests.OpenAi;

namespace Tokenflow.Server.Tests.Mcp;

public sealed class McpSubscriptionTests
{
    [Fact]
    public async Task A_subscription_gets_coalesced_updates_while_a_background_generation_runs_and_none_after_unsubscribe()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:Mcp:ResourceUpdateInterval", "00:00:00.100"]);
        await using var client = await McpTestClient.ConnectAsync(server);
        Assert.True(client.ServerCapabilities.Resources?.Subscribe);

        // A: long enough to still be growing at the end of the test.
        var a = (await client.CallAsync("start_generation", new { model = "sim", prompt = "x", max_tokens = 100_000, seed = 2, sim_tokens_per_second = 200 })).Structured().GetProperty("stream_id").GetString()!;
        var aUri = StreamResource.UriOf(a);
        var aUpdates = 0;
        var aChanged = new Signal();
        await using var aSubscription = await client.SubscribeToResourceAsync(aUri, (n, _) =>
        {
            Assert.Equal(aUri, n.Uri);
            Interlocked.Increment(ref aUpdates);
            aChanged.Pulse();
            return ValueTask.CompletedTask;
        });
        await aChanged.WaitUntilAsync(() => Volatile.Read(ref aUpdates) >= 3, TimeSpan.FromSeconds(30));
        await client.UnsubscribeFromResourceAsync(aUri);
        var aAtUnsubscribe = Volatile.Read(ref aUpdates);

        // B is subscribed after the unsubscribe answered, and the session has one SSE stream for both: an update for A
        // sent after the unsubscribe would arrive among or after B's. A keeps growing all along.
        var b = (await client.CallAsync("start_generation", new { model = "sim", prompt = "x", max_tokens = 60, seed = 3, sim_tokens_per_second = 200 })).Structured().GetProperty("stream_id").GetString()!;
        var bUri = StreamResource.UriOf(b);
        var bUpdates = 0;
        var aAtFirstB = -1;
        var bChanged = new Signal();
        await using var bSubscription = await client.SubscribeToResourceAsync(bUri, (n, _) =>
        {
            Interlocked.CompareExchange(ref aAtFirstB, Volatile.Read(ref aUpdates), -1);
            Interlocked.Increment(ref bUpdates);
            bChanged.Pulse();
            return ValueTask.CompletedTask;
        });
        var store = server.GetService<IStreamStore>();
        var aBefore = (await store.GetStatusAsync(a, CancellationToken.None))!.LastSeq;
        var bEnd = await CancellationTests.WaitForEndAsync(store, b, TimeSpan.FromSeconds(30));
        Assert.Equal(StreamState.Completed, bEnd.State);

        // B's last update is sent once B has ended; wait for it to settle, then check A stayed silent while it grew.
        await bChanged.WaitUntilAsync(() => Volatile.Read(ref bUpdates) >= 1, TimeSpan.FromSeconds(30));
        var grown = (await client.CallAsync("read_stream", new { stream_id = a, after = aBefore, wait_ms = 5000 })).Structured().GetProperty("last_seq").GetInt64();
        var bFinal = Volatile.Read(ref bUpdates);
        await client.CallAsync("read_stream", new { stream_id = b, after = 0 });
        Assert.True(grown > aBefore, "A did not grow");
        // At most one update for A can have been on its way when the unsubscribe answered.
        Assert.InRange(aAtFirstB, aAtUnsubscribe, aAtUnsubscribe + 1);
        Assert.Equal(aAtFirstB, Volatile.Read(ref aUpdates));

        // Coalesced: far fewer updates than B's 60 deltas.
        Assert.InRange(bFinal, 1, 30);
        await client.CallAsync("cancel_stream", new { stream_id = a });
    }

    [Fact]
    public async Task Subscribing_in_stateless_mode_is_refused_with_a_clear_error()
    {
        // A 2025-11-25 client reaches the handler (a 2026-07-28 one is refused by the SDK: the method is gone in that revision).
        await using var server = await TestServer.StartAsync(["--Tokenflow:Mcp:SessionMode", "Stateless"]);
        await using var client = await McpTestClient.ConnectAsync(server);
        var id = (await client.CallAsync("start_generation", new { model = "sim", prompt = "x", max_tokens = 5 })).Structured().GetProperty("stream_id").GetString()!;
        using var response = await McpTestClient.RawPostAsync(server, null, $$$"""{"jsonrpc":"2.0","id":2,"method":"resources/subscribe","params":{"uri":"{{{StreamResource.UriOf(id)}}}"}}""");
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("Subscriptions need a session", body, StringComparison.Ordinal);
        Assert.Contains("\"error\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Subscribing_to_an_unknown_stream_is_refused()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await McpTestClient.ConnectAsync(server);
        var error = await Assert.ThrowsAsync<McpProtocolException>(() => client.SubscribeToResourceAsync("tokenflow://streams/nope"));
        Assert.Equal(McpErrorCode.ResourceNotFound, error.ErrorCode);
    }

    /// <summary>Wakes waiters each time something changed.</summary>
    private sealed class Signal
    {
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Pulse() => Interlocked.Exchange(ref _changed, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

        public async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                var changed = Volatile.Read(ref _changed).Task;
                if (condition())
                {
                    return;
                }

                var left = deadline - DateTime.UtcNow;
                Assert.True(left > TimeSpan.Zero, "timed out waiting for resource updates");
                await Task.WhenAny(changed, Task.Delay(left));
            }
        }
    }
}
