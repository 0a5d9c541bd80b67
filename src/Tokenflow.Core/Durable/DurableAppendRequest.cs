namespace Tokenflow.Core.Durable;

/// <summary>A <c>POST</c>: append data and/or close, optionally as an idempotent producer.</summary>
public sealed record DurableAppendRequest(string Path, string? Owner)
{
    /// <summary>The request's content type (checked against the stream's when there is a body).</summary>
    public string? ContentType { get; init; }

    /// <summary>The data to append.</summary>
    public ReadOnlyMemory<byte> Body { get; init; }

    /// <summary>Close the stream after this append.</summary>
    public bool Close { get; init; }

    /// <summary>The writer's <c>Stream-Seq</c> (compared byte-wise; scope: per stream).</summary>
    public string? StreamSeq { get; init; }

    /// <summary>Idempotent producer id; epoch and seq are then required.</summary>
    public string? ProducerId { get; init; }

    /// <summary>The producer's epoch.</summary>
    public long ProducerEpoch { get; init; }

    /// <summary>The producer's per-epoch batch seq.</summary>
    public long ProducerSeq { get; init; }
}
