namespace Tokenflow.Core.Streams;

/// <summary>
/// One event of a stream's log, as a reader sees it. A value type: reading it allocates nothing.
/// </summary>
/// <remarks>
/// <see cref="Text"/> points into the log's storage and stays valid while the reader is open.
/// </remarks>
public readonly struct StreamEvent
{
    // A tool call's header (its first fragment) or a watch's match; null for other events.
    private readonly object? _extra;

    internal StreamEvent(long seq, in StreamEventRecord record)
    {
        Seq = seq;
        Kind = record.Kind;
        FinishReason = record.FinishReason;
        Channel = record.Channel;
        ToolCallIndex = record.ToolCallIndex;
        switch (record.Payload)
        {
            case byte[] segment:
                Text = new ReadOnlyMemory<byte>(segment, record.Offset, record.Length);
                break;
            case TerminalPayload terminal:
                Usage = terminal.Usage;
                Timings = terminal.Timings;
                Error = terminal.Error;
                _extra = terminal.StopSequence;
                break;
            case ToolCallHeader header:
                Text = header.Arguments;
                _extra = header;
                break;
            case WatchMatch watch:
                _extra = watch;
                break;
        }
    }

    private StreamEvent(long seq, StreamEventKind kind, ReadOnlyMemory<byte> text, DeltaChannel channel, int toolCallIndex, object? extra)
    {
        Seq = seq;
        Kind = kind;
        Text = text;
        Channel = channel;
        ToolCallIndex = (ushort)toolCallIndex;
        _extra = extra;
    }

    /// <summary>
    /// An event as a store decoded it from its own storage (a store that keeps logs elsewhere, e.g.
    /// Redis). <paramref name="text"/> must stay valid while the reader that returns the event is open.
    /// <paramref name="stopSequence"/> is the <see cref="StopSequence"/> of a usage or done event.
    /// </summary>
    public StreamEvent(long seq, StreamEventKind kind, ReadOnlyMemory<byte> text, FinishReason finishReason, Usage usage, Timings timings, StreamError? error, string? stopSequence = null)
    {
        Seq = seq;
        Kind = kind;
        Text = text;
        FinishReason = finishReason;
        Usage = usage;
        Timings = timings;
        Error = error;
        _extra = stopSequence;
    }

    /// <summary>A terminal error event at <paramref name="seq"/>.</summary>
    public static StreamEvent Failure(long seq, StreamError error, Usage usage = default)
        => new(seq, StreamEventKind.Error, default, FinishReason.Error, usage, default, error);

    /// <summary>
    /// A delta as a store decoded it: text on <paramref name="channel"/>; for a tool call's first
    /// fragment also its <paramref name="toolCallId"/> and <paramref name="toolName"/>.
    /// </summary>
    public static StreamEvent Delta(long seq, ReadOnlyMemory<byte> text, DeltaChannel channel = DeltaChannel.Content, int toolCallIndex = 0, string? toolCallId = null, string? toolName = null)
        => new(seq, StreamEventKind.Delta, text, channel, toolCallIndex, toolCallId is null ? null : new ToolCallHeader(toolCallId, toolName ?? string.Empty, text));

    /// <summary>A watch event as a store decoded it.</summary>
    public static StreamEvent WatchFired(long seq, WatchMatch match)
        => new(seq, StreamEventKind.Watch, default, DeltaChannel.Content, 0, match);

    /// <summary>The event's position in its stream, 1 for the first event.</summary>
    public long Seq { get; }

    /// <summary>What the event is.</summary>
    public StreamEventKind Kind { get; }

    /// <summary>
    /// UTF-8 text of a <see cref="StreamEventKind.Delta"/> on its <see cref="Channel"/> (for a tool
    /// call, a fragment of its JSON arguments); always whole characters.
    /// </summary>
    public ReadOnlyMemory<byte> Text { get; }

    /// <summary>What a delta carries: content, reasoning, a tool-call fragment or a refusal.</summary>
    public DeltaChannel Channel { get; }

    /// <summary>The tool call a <see cref="DeltaChannel.ToolCall"/> delta belongs to (0, 1, …).</summary>
    public int ToolCallIndex { get; }

    /// <summary>The tool call's id, on its first fragment only; null otherwise.</summary>
    public string? ToolCallId => (_extra as ToolCallHeader)?.Id;

    /// <summary>The called function's name, on the tool call's first fragment only; null otherwise.</summary>
    public string? ToolName => (_extra as ToolCallHeader)?.Name;

    /// <summary>The watch that fired, for a <see cref="StreamEventKind.Watch"/> event.</summary>
    public WatchMatch? Watch => _extra as WatchMatch;

    /// <summary>Why the generation ended (usage and done events).</summary>
    public FinishReason FinishReason { get; }

    /// <summary>Token counts (usage, error and done events).</summary>
    public Usage Usage { get; }

    /// <summary>Latency figures (usage and done events).</summary>
    public Timings Timings { get; }

    /// <summary>The error of an <see cref="StreamEventKind.Error"/> event.</summary>
    public StreamError? Error { get; }

    /// <summary>
    /// On the usage and done events of a generation that ended on one of its stop sequences (finish
    /// reason <see cref="FinishReason.Stop"/>): the sequence that matched. Null otherwise.
    /// </summary>
    public string? StopSequence => IsTerminal || Kind == StreamEventKind.Usage ? _extra as string : null;

    /// <summary>True for events after which a stream has nothing more.</summary>
    public bool IsTerminal => Kind is StreamEventKind.Done or StreamEventKind.Error;
}

/// <summary>
/// Storage form of an event inside a log, kept to 24 bytes: a delta points into a text segment
/// (<see cref="Payload"/> is the segment's array) or, for a tool call's first fragment, is a
/// <see cref="ToolCallHeader"/>; usage, done and error events carry a <see cref="TerminalPayload"/>;
/// a watch event its <see cref="WatchMatch"/>.
/// </summary>
internal readonly record struct StreamEventRecord(object? Payload, int Offset, int Length, StreamEventKind Kind, FinishReason FinishReason, DeltaChannel Channel = DeltaChannel.Content, ushort ToolCallIndex = 0);

/// <summary>The rarely used fields of the last events of a stream.</summary>
internal sealed record TerminalPayload(Usage Usage, Timings Timings, StreamError? Error, string? StopSequence = null);

/// <summary>The first fragment of a tool call: its id, name and first argument bytes (one per call, so allocated).</summary>
internal sealed record ToolCallHeader(string Id, string Name, ReadOnlyMemory<byte> Arguments);
