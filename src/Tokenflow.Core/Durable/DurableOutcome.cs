namespace Tokenflow.Core.Durable;

/// <summary>What a Durable Streams store operation did; the HTTP door maps each to a status code.</summary>
public enum DurableOutcome
{
    /// <summary>Done (read, metadata, delete, close).</summary>
    Ok = 0,
    /// <summary>A new stream was created.</summary>
    Created = 1,
    /// <summary>The stream already existed with the same configuration (idempotent create).</summary>
    Exists = 2,
    /// <summary>An append by an idempotent producer was accepted.</summary>
    Accepted = 3,
    /// <summary>A producer retry that was already applied; nothing changed.</summary>
    Duplicate = 4,
    /// <summary>No such stream (or not the caller's).</summary>
    NotFound = 5,
    /// <summary>The stream was deleted but is kept for its forks.</summary>
    Gone = 6,
    /// <summary>Configuration, content type or sequence conflict.</summary>
    Conflict = 7,
    /// <summary>The stream is closed; no more appends.</summary>
    Closed = 8,
    /// <summary>Malformed request (bad JSON, empty body, bad offset, bad producer headers).</summary>
    Invalid = 9,
    /// <summary>A stale producer epoch (zombie fencing).</summary>
    StaleEpoch = 10,
    /// <summary>A gap in the producer's sequence numbers.</summary>
    SequenceGap = 11,
    /// <summary>The store's memory or stream budget is spent.</summary>
    Full = 12,
}
