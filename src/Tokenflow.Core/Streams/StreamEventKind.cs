namespace Tokenflow.Core.Streams;

/// <summary>The kinds of events in a generation's log.</summary>
public enum StreamEventKind : byte
{
    /// <summary>New output on one of the <see cref="DeltaChannel"/>s: text, reasoning, a tool-call fragment, a refusal.</summary>
    Delta = 0,

    /// <summary>Token counts and timings; carries the finish reason. Precedes <see cref="Done"/>.</summary>
    Usage = 1,

    /// <summary>Terminal failure: the stream ends here.</summary>
    Error = 2,

    /// <summary>Terminal success (also for cancelled and length-limited streams).</summary>
    Done = 3,

    /// <summary>A watch fired (<see cref="StreamEvent.Watch"/>); not output, so usage does not count it.</summary>
    Watch = 4,
}
