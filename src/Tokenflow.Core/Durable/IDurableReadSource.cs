using System.Buffers;

namespace Tokenflow.Core.Durable;

/// <summary>
/// One reader's view of one Durable Stream — a client-created stream or a generation — as every door reads it:
/// metadata, reads from a position into a caller's buffer, and waits for more. One consumer, reading in order
/// (each read from the previous read's <see cref="DurableReadBatch.Next"/>); dispose it to let go of the stream.
/// </summary>
public interface IDurableReadSource : IAsyncDisposable
{
    /// <summary>
    /// True when a catch-up read from an explicit offset may be cached by the client; false when every read must
    /// reach the server (a generation: its readers keep it alive under the grace rules).
    /// </summary>
    bool Cacheable { get; }

    /// <summary>The stream's metadata (HEAD): tail, closure, content type, expiry. Does not count as a read.</summary>
    ValueTask<DurableStreamResult> GetInfoAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Reads from <paramref name="position"/> (null = the tail) and writes the response body to <paramref name="body"/>:
    /// for JSON streams one array of the messages read (<c>[]</c> when none), otherwise the bytes read. Writes nothing
    /// when the outcome is not <see cref="DurableOutcome.Ok"/>.
    /// </summary>
    ValueTask<DurableReadBatch> ReadAsync(long? position, IBufferWriter<byte> body, CancellationToken cancellationToken);

    /// <summary>
    /// Waits until the stream may have something past <paramref name="position"/> (data, closure, or it went away);
    /// returns false when <paramref name="cancellationToken"/> fires first (a timeout). A true result can come before
    /// the data is readable: read to find out.
    /// </summary>
    ValueTask<bool> WaitAsync(long position, CancellationToken cancellationToken);
}
