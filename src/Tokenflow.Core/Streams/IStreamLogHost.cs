namespace Tokenflow.Core.Streams;

/// <summary>
/// The store behind a <see cref="StreamLog"/>: what the log tells it, and what it asks. Every
/// member has a default, so a store implements only what it needs. Calls come outside the log's
/// lock, from the writer's or a timer's thread.
/// </summary>
public interface IStreamLogHost
{
    /// <summary>The terminal event was appended (the stream stopped running).</summary>
    void OnEnded(StreamLog log)
    {
    }

    /// <summary>The writer was disposed and the log is drained: the generation is over.</summary>
    void OnDisposed(StreamLog log)
    {
    }

    /// <summary>
    /// A replicated log has events to send and no send loop is running: start one that calls
    /// <see cref="StreamLog.TakeUnsent{TState}"/> until it returns false, then <see cref="StreamLog.Commit"/>
    /// (or <see cref="StreamLog.Lose"/>) for each batch. Called at most once until that loop ends.
    /// </summary>
    void OnReplicationNeeded(StreamLog log)
    {
    }

    /// <summary>
    /// The grace period ran out with no reader attached to this log. Return null to stop the
    /// stream now, or a delay after which to ask again (readers elsewhere still follow it).
    /// </summary>
    ValueTask<TimeSpan?> OnIdleAsync(StreamLog log) => new((TimeSpan?)null);
}
