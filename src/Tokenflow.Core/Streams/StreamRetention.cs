namespace Tokenflow.Core.Streams;

/// <summary>How long a stream's events stay in its log (request field <c>retention</c>).</summary>
public enum StreamRetention : byte
{
    /// <summary>Kept for resume until the completed-stream TTL (the default).</summary>
    Ttl = 0,

    /// <summary>
    /// Released as soon as every attached reader has passed them, so the log holds memory in
    /// proportion to reader lag, not to output length; resuming before what is still held is
    /// refused (<see cref="StreamOpenStatus.Truncated"/>). While no reader is attached nothing more
    /// is released, so a client that dropped can still resume from where it was.
    /// </summary>
    None = 1,
}
