using Tokenflow.Core.Durable;
using Tokenflow.Testing.Contracts;

namespace Tokenflow.Redis.Tests;

/// <summary>The Durable Streams store contract on a Redis Cluster of three masters (each test on its own key prefix).</summary>
public sealed class RedisClusterDurableStreamStoreTests : DurableStreamStoreContract
{
    protected override async Task<(IDurableStreamStore Store, IAsyncDisposable Owner)> StartStoreAsync(DurableStreamOptions options, TimeProvider time)
    {
        var node = await DurableNode.StartAsync((await RedisCluster.Shared).Configuration, DurableNode.NewPrefix(), options, time);
        return (node.Store, node);
    }
}
