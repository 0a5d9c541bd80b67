using Microsoft.Extensions.Options;
using Tokenflow.Core.Durable;
using Tokenflow.Testing.Contracts;

namespace Tokenflow.Core.Tests.Durable;

/// <summary>The Durable Streams store contract on the memory store.</summary>
public sealed class MemoryDurableStreamStoreTests : DurableStreamStoreContract
{
    protected override Task<(IDurableStreamStore Store, IAsyncDisposable Owner)> StartStoreAsync(DurableStreamOptions options, TimeProvider time)
        => Task.FromResult<(IDurableStreamStore, IAsyncDisposable)>((new MemoryDurableStreamStore(Options.Create(options), time), Nothing.Instance));

    private sealed class Nothing : IAsyncDisposable
    {
        public static readonly Nothing Instance = new();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
