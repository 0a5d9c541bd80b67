namespace Tokenflow.Core.Backends;

/// <summary>One message of a chat prompt, already validated: a role and its plain text.</summary>
/// <param name="Role">"system", "user", "assistant", "tool" or "developer".</param>
/// <param name="Content">The message text (text parts of multi-part content joined).</param>
public sealed record ChatMessage(string Role, string Content);
