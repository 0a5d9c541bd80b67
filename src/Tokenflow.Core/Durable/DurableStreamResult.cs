namespace Tokenflow.Core.Durable;

/// <summary>The outcome of a create, append, delete or metadata call, with the stream's state after it.</summary>
public sealed record DurableStreamResult(DurableOutcome Outcome)
{
    /// <summary>The tail position (next offset) after the operation.</summary>
    public long Tail { get; init; }

    /// <summary>True when the stream is closed.</summary>
    public bool Closed { get; init; }

    /// <summary>The stream's content type.</summary>
    public string? ContentType { get; init; }

    /// <summary>The sliding TTL in seconds, when set.</summary>
    public long? TtlSeconds { get; init; }

    /// <summary>The absolute expiry, when set.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>Producer epoch to report (accepted, duplicate or the current one on a stale epoch).</summary>
    public long? ProducerEpoch { get; init; }

    /// <summary>Highest accepted producer seq for the epoch.</summary>
    public long? ProducerSeq { get; init; }

    /// <summary>On a sequence gap: the seq the store expected.</summary>
    public long? ExpectedSeq { get; init; }

    /// <summary>On a sequence gap: the seq it received.</summary>
    public long? ReceivedSeq { get; init; }

    /// <summary>Why the request failed, for the response body.</summary>
    public string? Message { get; init; }

    /// <summary>A failed result with a reason.</summary>
    public static DurableStreamResult Fail(DurableOutcome outcome, string message) => new(outcome) { Message = message };
}
