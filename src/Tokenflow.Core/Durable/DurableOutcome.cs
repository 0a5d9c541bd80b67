namespace Tokenflow.Core.Durable;

/// <summary>What a Durable Streams store operation did; the HTTP door maps each to a status code.</summary>
public enum DurableOutcome
{
    /// <summary>Done (read, metadata, delete, close).</summary>
    Ok,
    /// <summary>A new stream was created.</summary>
    Created,
    /// <summary>The stream already existed with the same configuration (idempotent create).</summary>
    Exists,
    /// <summary>An append by an idempotent producer was accepted.</summary>
    Accepted,
    /// <summary>A producer retry that was already applied; nothing changed.</summary>
    Duplicate,
    /// <summary>No such stream (or not the caller's).</summary>
    NotFound,
    /// <summary>The stream was deleted but is kept for its forks.</summary>
    Gone,
    /// <summary>Configuration, content type or sequence conflict.</summary>
    Conflict,
    /// <summary>The stream is closed; no more appends.</summary>
    Closed,
    /// <summary>Malformed request (bad JSON, empty body, bad offset, bad producer headers).</summary>
    Invalid,
    /// <summary>A stale producer epoch (zombie fencing).</summary>
    StaleEpoch,
    /// <summary>A gap in the producer's sequence numbers.</summary>
    SequenceGap,
    /// <summary>The store's memory or stream budget is spent.</summary>
    Full,
}
