namespace Tokenflow.Core.Streams;

/// <summary>
/// A cursor over one stream: replays stored events after a position, then follows live ones.
/// Each open reader counts as a subscriber for the grace rules until disposed. Single consumer.
/// </summary>
public interface IStreamReader : IAsyncDisposable
{
    /// <summary>The stream id.</summary>
    string StreamId { get; }

    /// <summary>
    /// Waits until an event can be read. Returns false once the terminal event has been read:
    /// the stream has nothing more. May also return true with nothing to read after <see cref="Interrupt"/>.
    /// </summary>
    ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken);

    /// <summary>
    /// True when the next event can be read without waiting (a hint for batching writes; false is
    /// always safe).
    /// </summary>
    bool HasBuffered => false;

    /// <summary>Reads the next event if one is available.</summary>
    bool TryRead(out StreamEvent streamEvent);

    /// <summary>
    /// Wakes a pending <see cref="WaitToReadAsync"/> (with true) so its caller can do periodic work such as
    /// heartbeats; with none pending, the next one returns true at once — an interrupt is never lost. Thread-safe.
    /// </summary>
    void Interrupt();
}
