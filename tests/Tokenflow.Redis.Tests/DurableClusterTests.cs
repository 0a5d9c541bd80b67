using System.Text;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using Tokenflow.Core.Durable;

namespace Tokenflow.Redis.Tests;

/// <summary>Durable Streams on a real Redis Cluster of three masters: where the keys go, and the global budgets across shards and processes.</summary>
public sealed class DurableClusterTests
{
    private static async Task<Dictionary<string, long>> KeysPerMasterAsync(IConnectionMultiplexer redis, string pattern)
    {
        var counts = new Dictionary<string, long>();
        foreach (var server in redis.GetServers().Where(s => !s.IsReplica))
        {
            long count = 0;
            await foreach (var _ in server.KeysAsync(pattern: pattern, pageSize: 1000))
            {
                count++;
            }

            counts[server.EndPoint.ToString()!] = count;
        }

        return counts;
    }

    private static async Task<(long Streams, long Bytes)> CountersAsync(IConnectionMultiplexer redis, string prefix)
    {
        var values = await redis.GetDatabase().HashGetAsync($"{prefix}:{{durable}}:g", ["n", "b"]);
        return ((long?)values[0] ?? 0, (long?)values[1] ?? 0);
    }

    private static async Task UntilAsync(Func<Task<bool>> condition, string failure)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure);
            await Task.Delay(50);
        }
    }

    private static DurableCreateRequest Create(string path, string body = "", long? ttl = null) => new(path, "alice")
    {
        ContentType = "text/plain",
        Body = Encoding.UTF8.GetBytes(body),
        TtlSeconds = ttl,
    };

    [Fact]
    public async Task Durable_streams_spread_over_every_master()
    {
        var cluster = await RedisCluster.Shared;
        var prefix = DurableNode.NewPrefix();
        await using var node = await DurableNode.StartAsync(cluster.Configuration, prefix, new DurableStreamOptions(), TimeProvider.System);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(cluster.Configuration);

        // Fixed paths: their hash slots, and so the masters that own them, are the same on every run.
        for (var i = 0; i < 30; i++)
        {
            Assert.Equal(DurableOutcome.Created, (await node.Store.CreateAsync(Create($"spread/{i}", "data"), CancellationToken.None)).Outcome);
        }

        var keys = await KeysPerMasterAsync(redis, $"{prefix}:d:*");
        Assert.Equal(3, keys.Count);
        Assert.All(keys, k => Assert.True(k.Value > 0, $"master {k.Key} holds no durable keys"));
        Assert.Equal(60, keys.Values.Sum());
        Assert.Equal((30L, 120L), await CountersAsync(redis, prefix));
    }

    [Fact]
    public async Task Budgets_hold_across_processes_and_shards()
    {
        var cluster = await RedisCluster.Shared;
        var prefix = DurableNode.NewPrefix();
        var options = new DurableStreamOptions { MaxStreams = 3, MaxBytes = 2048 };
        await using var a = await DurableNode.StartAsync(cluster.Configuration, prefix, options, TimeProvider.System);
        await using var b = await DurableNode.StartAsync(cluster.Configuration, prefix, options, TimeProvider.System);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(cluster.Configuration);

        Assert.Equal(DurableOutcome.Created, (await a.Store.CreateAsync(Create("budget/one"), CancellationToken.None)).Outcome);
        Assert.Equal(DurableOutcome.Created, (await b.Store.CreateAsync(Create("budget/two"), CancellationToken.None)).Outcome);
        Assert.Equal(DurableOutcome.Created, (await a.Store.CreateAsync(Create("budget/three"), CancellationToken.None)).Outcome);
        Assert.Equal(DurableOutcome.Full, (await b.Store.CreateAsync(Create("budget/four"), CancellationToken.None)).Outcome);

        var bytes = Encoding.UTF8.GetBytes(new string('x', 1500));
        Assert.Equal(DurableOutcome.Ok, (await a.Store.AppendAsync(new DurableAppendRequest("budget/one", "alice") { ContentType = "text/plain", Body = bytes }, CancellationToken.None)).Outcome);
        Assert.Equal(DurableOutcome.Full, (await b.Store.AppendAsync(new DurableAppendRequest("budget/two", "alice") { ContentType = "text/plain", Body = bytes.AsMemory(0, 600) }, CancellationToken.None)).Outcome);
        Assert.Equal((3L, 1500L), await CountersAsync(redis, prefix));

        Assert.Equal(DurableOutcome.Ok, (await b.Store.DeleteAsync("budget/one", "alice", CancellationToken.None)).Outcome);
        Assert.Equal((2L, 0L), await CountersAsync(redis, prefix));
        Assert.Equal(DurableOutcome.Created, (await a.Store.CreateAsync(Create("budget/four", new string('y', 2048)), CancellationToken.None)).Outcome);
        Assert.Equal((3L, 2048L), await CountersAsync(redis, prefix));
    }

    [Fact]
    public async Task Expired_streams_on_every_shard_are_swept_and_give_back_exactly_what_they_were_charged()
    {
        var cluster = await RedisCluster.Shared;
        var prefix = DurableNode.NewPrefix();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
        var options = new DurableStreamOptions { SweepInterval = TimeSpan.FromSeconds(1) };
        await using var node = await DurableNode.StartAsync(cluster.Configuration, prefix, options, time);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(cluster.Configuration);

        long expiring = 0;
        for (var i = 0; i < 30; i++)
        {
            await node.Store.CreateAsync(Create($"sweep/{i}", new string('e', i + 1), ttl: 5), CancellationToken.None);
            expiring += i + 1;
        }

        // A fork copies its inherited bytes (and its source's TTL); a stream without expiry stays.
        await node.Store.CreateAsync(new DurableCreateRequest("sweep/fork", "alice") { ForkedFrom = "sweep/29" }, CancellationToken.None);
        await node.Store.CreateAsync(Create("sweep/stays", "0123456789"), CancellationToken.None);
        Assert.Equal((32L, expiring + 30 + 10), await CountersAsync(redis, prefix));

        // Nobody touches them again: only the sweep can retire them.
        time.Advance(TimeSpan.FromSeconds(6));
        await UntilAsync(async () => await CountersAsync(redis, prefix) == (1L, 10L), "the sweep did not give back the expired streams' budget");
        var keys = await KeysPerMasterAsync(redis, $"{prefix}:d:*");
        Assert.Equal(2, keys.Values.Sum());
        Assert.Equal(0, await redis.GetDatabase().SortedSetLengthAsync($"{prefix}:{{durable}}:x"));
        var read = await node.Store.ReadAsync("sweep/stays", "alice", 0, CancellationToken.None);
        Assert.Equal("0123456789", Encoding.UTF8.GetString(read.Chunks.Single().Span));
    }
}
