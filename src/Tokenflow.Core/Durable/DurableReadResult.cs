namespace Tokenflow.Core.Durable;

/// <summary>A catch-up read: the data from a position up to the store's chunk limit, and where to read next.</summary>
public sealed record DurableReadResult(DurableOutcome Outcome)
{
    /// <summary>An instance id of the stream (differs for a stream re-created at the same path); part of the ETag.</summary>
    public long StreamKey { get; init; }

    /// <summary>The stream's content type.</summary>
    public string ContentType { get; init; } = "application/octet-stream";

    /// <summary>True for <c>application/json</c> streams: <see cref="Chunks"/> are whole JSON messages.</summary>
    public bool IsJson { get; init; }

    /// <summary>The data read: byte ranges for byte streams, one JSON value each for JSON streams.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Chunks { get; init; } = [];

    /// <summary>The resolved start position.</summary>
    public long Start { get; init; }

    /// <summary>The position after the data read (the next offset).</summary>
    public long Next { get; init; }

    /// <summary>True when the read reached the tail.</summary>
    public bool UpToDate { get; init; }

    /// <summary>True when the stream is closed and the read reached its final offset (EOF).</summary>
    public bool Closed { get; init; }

    /// <summary>The sliding TTL in seconds, when set.</summary>
    public long? TtlSeconds { get; init; }

    /// <summary>The absolute expiry, when set.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>Why the read failed.</summary>
    public string? Message { get; init; }
}
