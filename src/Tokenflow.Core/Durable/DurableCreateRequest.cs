namespace Tokenflow.Core.Durable;

/// <summary>A <c>PUT</c>: create a stream (optionally closed, with initial data, or as a fork).</summary>
public sealed record DurableCreateRequest(string Path, string? Owner)
{
    /// <summary>The content type; null = inherit (forks) or <c>application/octet-stream</c>.</summary>
    public string? ContentType { get; init; }

    /// <summary>Sliding TTL in seconds.</summary>
    public long? TtlSeconds { get; init; }

    /// <summary>Absolute expiry.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>Create in the closed state.</summary>
    public bool Close { get; init; }

    /// <summary>Initial data (may be empty).</summary>
    public ReadOnlyMemory<byte> Body { get; init; }

    /// <summary>The source stream's path when forking.</summary>
    public string? ForkedFrom { get; init; }

    /// <summary>The fork point; null = the source's tail.</summary>
    public long? ForkOffset { get; init; }

    /// <summary>Messages (JSON) or bytes past <see cref="ForkOffset"/> to inherit too.</summary>
    public long ForkSubOffset { get; init; }
}
