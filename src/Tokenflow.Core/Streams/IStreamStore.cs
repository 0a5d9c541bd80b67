namespace Tokenflow.Core.Streams;

/// <summary>
/// Holds stream logs: append-only, numbered events that any number of readers replay and follow.
/// Implementations: <see cref="MemoryStreamStore"/> (default) and a Redis Streams store.
/// </summary>
public interface IStreamStore
{
    /// <summary>Creates a stream and returns its writer, or why not.</summary>
    ValueTask<(StreamCreateStatus Status, IStreamWriter? Writer)> CreateAsync(StreamDescriptor descriptor, CancellationToken cancellationToken);

    /// <summary>Opens a reader positioned after <paramref name="afterSeq"/> (0 = from the start).</summary>
    ValueTask<(StreamOpenStatus Status, IStreamReader? Reader)> OpenReaderAsync(string streamId, long afterSeq, CancellationToken cancellationToken);

    /// <summary>The stream's status, or null when unknown or expired.</summary>
    ValueTask<StreamStatus?> GetStatusAsync(string streamId, CancellationToken cancellationToken);

    /// <summary>The stream's creation descriptor (owner, model, flags), or null when unknown.</summary>
    ValueTask<StreamDescriptor?> GetDescriptorAsync(string streamId, CancellationToken cancellationToken);

    /// <summary>Asks the stream's writer to stop. Returns false when the stream is unknown.</summary>
    ValueTask<bool> CancelAsync(string streamId, CancellationToken cancellationToken);
}
