namespace Tokenflow.Core.Streams;

/// <summary>What a new stream is created with.</summary>
public sealed class StreamDescriptor
{
    /// <summary>The stream's unguessable id (see <see cref="StreamIds"/>).</summary>
    public required string Id { get; init; }

    /// <summary>The model id producing the stream.</summary>
    public required string Model { get; init; }

    /// <summary>Creation time, Unix seconds.</summary>
    public long Created { get; init; }

    /// <summary>True: disconnects never cancel the stream, only an explicit cancel does.</summary>
    public bool Background { get; init; }

    /// <summary>How long the stream keeps running after its last reader leaves. Null = the store default.</summary>
    public TimeSpan? ResumeGrace { get; init; }

    /// <summary>How long the stream's events are kept. Null = the store default.</summary>
    public StreamRetention? Retention { get; init; }

    /// <summary>Opaque adapter data kept with the stream (e.g. the response format to replay it in).</summary>
    public string? Metadata { get; init; }

    /// <summary>
    /// State an adapter keeps with the stream for as long as the stream exists (e.g. a response's conversation,
    /// so a later request can continue it with <c>previous_response_id</c>); null = none.
    /// </summary>
    public string? Context { get; init; }

    /// <summary>Identifies who created the stream (a hash of the API key), or null when keys are off.</summary>
    public string? Owner { get; init; }
}
