namespace Tokenflow.Core.Streams;

/// <summary>
/// One event of a stream's log, as a reader sees it. A value type: reading it allocates nothing.
/// </summary>
/// <remarks>
/// <see cref="Text"/> points into the log's storage and stays valid while the reader is open.
/// </remarks>
public readonly struct StreamEvent
{
    internal StreamEvent(long seq, in StreamEventRecord record)
    {
        Seq = seq;
        Kind = record.Kind;
        FinishReason = record.FinishReason;
        if (record.Payload is TerminalPayload terminal)
        {
            Usage = terminal.Usage;
            Timings = terminal.Timings;
            Error = terminal.Error;
        }
        else if (record.Payload is byte[] segment)
        {
            Text = new ReadOnlyMemory<byte>(segment, record.Offset, record.Length);
        }
    }

    /// <summary>
    /// An event as a store decoded it from its own storage (a store that keeps logs elsewhere, e.g.
    /// Redis). <paramref name="text"/> must stay valid while the reader that returns the event is open.
    /// </summary>
    public StreamEvent(long seq, StreamEventKind kind, ReadOnlyMemory<byte> text, FinishReason finishReason, Usage usage, Timings timings, StreamError? error)
    {
        Seq = seq;
        Kind = kind;
        Text = text;
        FinishReason = finishReason;
        Usage = usage;
        Timings = timings;
        Error = error;
    }

    /// <summary>A terminal error event at <paramref name="seq"/>.</summary>
    public static StreamEvent Failure(long seq, StreamError error, Usage usage = default)
        => new(seq, StreamEventKind.Error, default, FinishReason.Error, usage, default, error);

    /// <summary>The event's position in its stream, 1 for the first event.</summary>
    public long Seq { get; }

    /// <summary>What the event is.</summary>
    public StreamEventKind Kind { get; }

    /// <summary>UTF-8 text of a <see cref="StreamEventKind.Delta"/>; always whole characters.</summary>
    public ReadOnlyMemory<byte> Text { get; }

    /// <summary>Why the generation ended (usage and done events).</summary>
    public FinishReason FinishReason { get; }

    /// <summary>Token counts (usage, error and done events).</summary>
    public Usage Usage { get; }

    /// <summary>Latency figures (usage and done events).</summary>
    public Timings Timings { get; }

    /// <summary>The error of an <see cref="StreamEventKind.Error"/> event.</summary>
    public StreamError? Error { get; }

    /// <summary>True for events after which a stream has nothing more.</summary>
    public bool IsTerminal => Kind is StreamEventKind.Done or StreamEventKind.Error;
}

/// <summary>
/// Storage form of an event inside a log, kept to 24 bytes: a delta points into a text segment
/// (<see cref="Payload"/> is the segment's array); usage, done and error events carry a
/// <see cref="TerminalPayload"/>.
/// </summary>
internal readonly record struct StreamEventRecord(object? Payload, int Offset, int Length, StreamEventKind Kind, FinishReason FinishReason);

/// <summary>The rarely used fields of the last events of a stream.</summary>
internal sealed record TerminalPayload(Usage Usage, Timings Timings, StreamError? Error);
