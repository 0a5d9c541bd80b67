namespace Tokenflow.Core.Streams;

/// <summary>
/// The single producer of a stream. Appends are synchronous and cheap (they only buffer);
/// <see cref="FlushAsync"/> makes them visible where a store needs I/O. Not thread-safe: one writer, one task.
/// </summary>
public interface IStreamWriter : IAsyncDisposable
{
    /// <summary>The stream id.</summary>
    string StreamId { get; }

    /// <summary>
    /// Signalled when the stream must stop: an explicit cancel, or every reader gone for longer than
    /// the grace period (never for background streams).
    /// </summary>
    CancellationToken Stopping { get; }

    /// <summary>
    /// Appends a text delta. Returns false when the store refuses it (stream or memory limit); the
    /// writer then ends the stream with <see cref="Fail"/>.
    /// </summary>
    bool TryAppendDelta(ReadOnlySpan<byte> utf8Text);

    /// <summary>
    /// Reports the token counts so far, for status queries while the stream runs (the final
    /// counts come with <see cref="Complete"/> or <see cref="Fail"/>). Cheap; called per token.
    /// </summary>
    void ReportUsage(Usage usage)
    {
    }

    /// <summary>Ends the stream: a usage event then a done event.</summary>
    void Complete(FinishReason finishReason, Usage usage, Timings timings);

    /// <summary>Ends the stream with a terminal error event.</summary>
    void Fail(StreamError error, Usage usage);

    /// <summary>Makes appended events visible to readers everywhere (no-op for the memory store).</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken);
}
