namespace Tokenflow.Server.OpenAi;

/// <summary>
/// Remembers, in the stream's metadata, how its original response was framed (chat or text
/// chunks, with or without the usage chunk) so a resumed reader gets the same framing.
/// </summary>
internal static class ReplayFormat
{
    public static string Encode(CompletionKind kind, bool includeUsage)
        => (kind == CompletionKind.Chat ? "chat" : "text") + (includeUsage ? "+usage" : string.Empty);

    public static (CompletionKind Kind, bool IncludeUsage) Decode(string? metadata)
        => (metadata is not null && metadata.StartsWith("text", StringComparison.Ordinal) ? CompletionKind.Text : CompletionKind.Chat,
            metadata is not null && metadata.EndsWith("+usage", StringComparison.Ordinal));
}
