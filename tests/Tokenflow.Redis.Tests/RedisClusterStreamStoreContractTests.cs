using Tokenflow.Core.Streams;
using Tokenflow.Testing.Contracts;

namespace Tokenflow.Redis.Tests;

/// <summary>The stream store contract on a Redis Cluster of three masters; the peer is a second process on the same cluster.</summary>
public sealed class RedisClusterStreamStoreContractTests : StreamStoreContract
{
    protected override async Task<(IStreamStore Store, IAsyncDisposable Owner)> StartStoreAsync(StreamStoreOptions options)
    {
        var node = await TestNode.StartAsync((await RedisCluster.Shared).Configuration, o => o.ResumeGrace = options.ResumeGrace);
        return (node.Store, node);
    }

    protected override async Task<(IStreamStore Store, IAsyncDisposable? Owner)> StartPeerAsync(IStreamStore store, StreamStoreOptions options)
    {
        var node = await TestNode.StartAsync((await RedisCluster.Shared).Configuration, o => o.ResumeGrace = options.ResumeGrace);
        return (node.Store, node);
    }
}
