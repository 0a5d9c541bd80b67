namespace Tokenflow.Core.Durable;

/// <summary>What one <see cref="IDurableReadSource.ReadAsync"/> wrote to its body buffer, and where to read next.</summary>
public readonly record struct DurableReadBatch(DurableOutcome Outcome)
{
    /// <summary>Identifies the stream instance read (differs for a stream re-created at the same path); part of the ETag.</summary>
    public string StreamKey { get; init; } = string.Empty;

    /// <summary>The stream's content type.</summary>
    public string ContentType { get; init; } = "application/octet-stream";

    /// <summary>True for <c>application/json</c> streams: the body is a JSON array of messages.</summary>
    public bool IsJson { get; init; }

    /// <summary>The resolved start position.</summary>
    public long Start { get; init; }

    /// <summary>The position after the data read (the next offset).</summary>
    public long Next { get; init; }

    /// <summary>How many messages (JSON) or chunks (bytes) the body holds; 0 when the read found nothing new.</summary>
    public int Count { get; init; }

    /// <summary>True when the read reached the tail.</summary>
    public bool UpToDate { get; init; }

    /// <summary>True when the stream is closed and the read reached its final offset (EOF).</summary>
    public bool Closed { get; init; }

    /// <summary>Why the read failed.</summary>
    public string? Message { get; init; }
}
