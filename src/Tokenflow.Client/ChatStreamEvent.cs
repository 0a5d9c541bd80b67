namespace Tokenflow.Client;

/// <summary>
/// One event of a streamed chat completion, as the caller sees it: each is delivered exactly once and
/// in order of <see cref="Seq"/>, also across reconnects. An event carries a text delta, or the finish
/// reason, or the usage (the last event when usage was asked for).
/// </summary>
public sealed class ChatStreamEvent
{
    /// <summary>The stream id (<c>chatcmpl-…</c>): use it to resume, read or cancel the stream later.</summary>
    public string? StreamId { get; init; }

    /// <summary>The event's number in the stream, from 1 (the SSE <c>id</c>).</summary>
    public long Seq { get; init; }

    /// <summary>The text delta, or null when the event carries none.</summary>
    public string? Text { get; init; }

    /// <summary>Why generation stopped (<c>stop</c>, <c>length</c>, <c>cancelled</c>, …), on the finish event only.</summary>
    public string? FinishReason { get; init; }

    /// <summary>Token counts, on the usage event only.</summary>
    public ChatUsage? Usage { get; init; }

    /// <summary>The model that produced the stream.</summary>
    public string? Model { get; init; }

    /// <summary>When the stream was created, as the server reports it.</summary>
    public DateTimeOffset? Created { get; init; }

    /// <inheritdoc />
    public override string ToString() => $"#{Seq} {(Text is not null ? $"\"{Text}\"" : FinishReason ?? (Usage is not null ? "usage" : "event"))}";
}
