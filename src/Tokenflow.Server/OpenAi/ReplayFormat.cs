namespace Tokenflow.Server.OpenAi;

/// <summary>
/// Remembers, in the stream's metadata, how its original response was framed (chat or text
/// chunks, with or without the usage chunk, with or without partial JSON values) so a resumed
/// reader gets the same framing.
/// </summary>
internal static class ReplayFormat
{
    public static string Encode(CompletionKind kind, bool includeUsage, bool partialJson = false)
        => (kind == CompletionKind.Chat ? "chat" : "text") + (includeUsage ? "+usage" : string.Empty) + (partialJson ? "+partial" : string.Empty);

    public static (CompletionKind Kind, bool IncludeUsage, bool PartialJson) Decode(string? metadata)
        => (metadata is not null && metadata.StartsWith("text", StringComparison.Ordinal) ? CompletionKind.Text : CompletionKind.Chat,
            metadata is not null && metadata.Contains("+usage", StringComparison.Ordinal),
            metadata is not null && metadata.Contains("+partial", StringComparison.Ordinal));
}
