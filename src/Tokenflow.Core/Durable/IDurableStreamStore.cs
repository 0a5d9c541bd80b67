namespace Tokenflow.Core.Durable;

/// <summary>
/// Client-created Durable Streams (protocol 1.0): append-only logs addressed by path, with offsets,
/// JSON mode, TTL/expiry, closure, idempotent producers and forks. Paths are validated by the caller.
/// Every call takes the caller's owner id; another owner's stream is reported as not found.
/// </summary>
public interface IDurableStreamStore
{
    /// <summary>Creates a stream, or confirms an identical one (idempotent PUT).</summary>
    ValueTask<DurableStreamResult> CreateAsync(DurableCreateRequest request, CancellationToken cancellationToken);

    /// <summary>Appends and/or closes.</summary>
    ValueTask<DurableStreamResult> AppendAsync(DurableAppendRequest request, CancellationToken cancellationToken);

    /// <summary>Metadata (HEAD); does not refresh a sliding TTL.</summary>
    ValueTask<DurableStreamResult> GetInfoAsync(string path, string? owner, CancellationToken cancellationToken);

    /// <summary>Reads from <paramref name="position"/> (null = the tail) up to the chunk limit; refreshes a sliding TTL.</summary>
    ValueTask<DurableReadResult> ReadAsync(string path, string? owner, long? position, CancellationToken cancellationToken);

    /// <summary>
    /// Waits until the stream's tail passes <paramref name="position"/>, it closes, or it goes away.
    /// Returns false when the token fires first (a timeout, for long-poll).
    /// </summary>
    ValueTask<bool> WaitAsync(string path, long position, CancellationToken cancellationToken);

    /// <summary>Deletes a stream (soft-deletes it while forks still read from it).</summary>
    ValueTask<DurableStreamResult> DeleteAsync(string path, string? owner, CancellationToken cancellationToken);
}
