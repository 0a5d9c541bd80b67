namespace Tokenflow.Client;

/// <summary>One message of a chat request: a role (<c>system</c>, <c>user</c>, <c>assistant</c>, <c>tool</c>) and its text.</summary>
/// <param name="Role">The author's role, as the OpenAI chat format names it.</param>
/// <param name="Content">The message text.</param>
public sealed record ChatRequestMessage(string Role, string Content)
{
    /// <summary>A <c>system</c> message.</summary>
    public static ChatRequestMessage System(string content) => new("system", content);

    /// <summary>A <c>user</c> message.</summary>
    public static ChatRequestMessage User(string content) => new("user", content);

    /// <summary>An <c>assistant</c> message.</summary>
    public static ChatRequestMessage Assistant(string content) => new("assistant", content);
}
