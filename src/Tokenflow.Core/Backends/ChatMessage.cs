namespace Tokenflow.Core.Backends;

/// <summary>One message of a chat prompt, already validated: a role and its plain text.</summary>
/// <param name="Role">"system", "user", "assistant", "tool" or "developer".</param>
/// <param name="Content">The message text (text parts of multi-part content joined); empty for an assistant message that only calls tools.</param>
public sealed record ChatMessage(string Role, string Content)
{
    /// <summary>The tool calls of an assistant message; null when it made none.</summary>
    public IReadOnlyList<ChatToolCall>? ToolCalls { get; init; }

    /// <summary>The call a <c>tool</c> message answers.</summary>
    public string? ToolCallId { get; init; }

    /// <summary>The participant's <c>name</c>, when given.</summary>
    public string? Name { get; init; }
}
