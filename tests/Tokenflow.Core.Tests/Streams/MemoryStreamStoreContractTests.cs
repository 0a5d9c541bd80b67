using Microsoft.Extensions.Options;
using Tokenflow.Core.Streams;
using Tokenflow.Testing.Contracts;

namespace Tokenflow.Core.Tests.Streams;

/// <summary>The stream store contract on the memory store (its peer is itself: one process).</summary>
public sealed class MemoryStreamStoreContractTests : StreamStoreContract
{
    protected override Task<(IStreamStore Store, IAsyncDisposable Owner)> StartStoreAsync(StreamStoreOptions options)
    {
        var store = new MemoryStreamStore(Options.Create(options), TimeProvider.System);
        return Task.FromResult<(IStreamStore, IAsyncDisposable)>((store, new Disposal(store)));
    }

    protected override Task<(IStreamStore Store, IAsyncDisposable? Owner)> StartPeerAsync(IStreamStore store, StreamStoreOptions options)
        => Task.FromResult<(IStreamStore, IAsyncDisposable?)>((store, null));

    private sealed class Disposal(IDisposable disposable) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            disposable.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
