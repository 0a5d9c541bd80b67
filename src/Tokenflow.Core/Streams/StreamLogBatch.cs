namespace Tokenflow.Core.Streams;

/// <summary>A range of events a replicated log hands to its send loop (<see cref="StreamLog.TakeUnsent{TState}"/>).</summary>
/// <param name="FromSeq">The first seq in the batch.</param>
/// <param name="ToSeq">The last seq in the batch.</param>
/// <param name="State">The stream's state when the batch was taken.</param>
/// <param name="Usage">The final usage when <paramref name="State"/> is not running.</param>
public readonly record struct StreamLogBatch(long FromSeq, long ToSeq, StreamState State, Usage Usage)
{
    /// <summary>True when the batch ends with the stream's terminal event.</summary>
    public bool IsFinal => State != StreamState.Running;
}
