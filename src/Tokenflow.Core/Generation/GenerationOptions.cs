namespace Tokenflow.Core.Generation;

/// <summary>How a generation runs around its backend call: limits, stop sequences, lifetime.</summary>
public sealed record GenerationOptions
{
    /// <summary>The stream id prefix: "chatcmpl-" for chat, "cmpl-" for completions.</summary>
    public string IdPrefix { get; init; } = "chatcmpl-";

    /// <summary>Most tokens to generate; reaching it ends with finish reason "length".</summary>
    public int MaxTokens { get; init; } = 64;

    /// <summary>Stop sequences (up to 4 in the OpenAI API); the output ends before the first match.</summary>
    public IReadOnlyList<string>? Stop { get; init; }

    /// <summary>True: never cancelled by readers leaving, only by an explicit cancel.</summary>
    public bool Background { get; init; }

    /// <summary>Grace period after the last reader leaves; null = the store's default.</summary>
    public TimeSpan? ResumeGrace { get; init; }

    /// <summary>How long the stream's events are kept; null = the store's default.</summary>
    public Streams.StreamRetention? Retention { get; init; }

    /// <summary>Opaque adapter data stored with the stream (<see cref="Streams.StreamDescriptor.Metadata"/>).</summary>
    public string? Metadata { get; init; }

    /// <summary>Adapter state kept with the stream (<see cref="Streams.StreamDescriptor.Context"/>).</summary>
    public string? Context { get; init; }

    /// <summary>Owner of the stream (hashed API key) or null.</summary>
    public string? Owner { get; init; }

    /// <summary>Triggers on partial output, each firing once as a watch event; null = none.</summary>
    public IReadOnlyList<Watches.WatchSpec>? Watches { get; init; }

    /// <summary>The id of the watch whose firing cancels the generation (<c>cancel_on</c>); null = none.</summary>
    public string? CancelOn { get; init; }
}
