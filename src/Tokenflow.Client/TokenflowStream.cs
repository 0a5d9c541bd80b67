namespace Tokenflow.Client;

/// <summary>A stream's status as <c>GET /v1/streams/{id}</c> and <c>POST /v1/streams/{id}/cancel</c> report it.</summary>
public sealed record TokenflowStream
{
    /// <summary>The stream id.</summary>
    public required string Id { get; init; }

    /// <summary>The model generating it.</summary>
    public string? Model { get; init; }

    /// <summary><c>running</c>, <c>completed</c>, <c>cancelled</c> or <c>failed</c>.</summary>
    public required string Status { get; init; }

    /// <summary>When the stream was created.</summary>
    public DateTimeOffset Created { get; init; }

    /// <summary>The number of the last event written so far.</summary>
    public long LastSeq { get; init; }

    /// <summary>Tokens counted so far.</summary>
    public ChatUsage? Usage { get; init; }
}
