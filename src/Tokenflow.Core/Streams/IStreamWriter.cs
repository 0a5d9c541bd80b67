namespace Tokenflow.Core.Streams;

/// <summary>
/// The single producer of a stream. Appends are synchronous and cheap (they only buffer);
/// <see cref="FlushAsync"/> makes them visible where a store needs I/O. Not thread-safe: one writer, one task.
/// </summary>
public interface IStreamWriter : IAsyncDisposable
{
    /// <summary>The stream id.</summary>
    string StreamId { get; }

    /// <summary>The seq of the last event appended (0 before the first). Read by the writer's own task.</summary>
    long LastSeq { get; }

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
    /// Appends a delta on <paramref name="channel"/> (for <see cref="DeltaChannel.ToolCall"/>, more
    /// argument text of the call <paramref name="toolCallIndex"/> started by
    /// <see cref="TryAppendToolCallStart"/>). Returns false when the store refuses it, as
    /// <see cref="TryAppendDelta(ReadOnlySpan{byte})"/>.
    /// </summary>
    bool TryAppendDelta(DeltaChannel channel, ReadOnlySpan<byte> utf8Text, int toolCallIndex = 0);

    /// <summary>Appends the first fragment of tool call <paramref name="index"/>: its id, function name and first argument text (may be empty).</summary>
    bool TryAppendToolCallStart(int index, string id, string name, ReadOnlySpan<byte> arguments);

    /// <summary>Appends a <see cref="StreamEventKind.Watch"/> event: a watch fired.</summary>
    bool TryAppendWatch(WatchMatch match);

    /// <summary>
    /// Reports the token counts so far, for status queries while the stream runs (the final
    /// counts come with <see cref="Complete"/> or <see cref="Fail"/>). Cheap; called per token.
    /// </summary>
    void ReportUsage(Usage usage)
    {
    }

    /// <summary>
    /// Ends the stream: a usage event then a done event; <paramref name="stopSequence"/> is the stop
    /// sequence that ended it, if one did (<see cref="StreamEvent.StopSequence"/>).
    /// </summary>
    void Complete(FinishReason finishReason, Usage usage, Timings timings, string? stopSequence = null);

    /// <summary>Ends the stream with a terminal error event.</summary>
    void Fail(StreamError error, Usage usage);

    /// <summary>Makes appended events visible to readers everywhere (no-op for the memory store).</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken);
}
