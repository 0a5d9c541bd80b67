namespace Tokenflow.Core.Streams;

/// <summary>
/// What a <see cref="StreamEventKind.Delta"/> carries: answer text, reasoning, a fragment of a
/// tool call's arguments, or a refusal. Every door renders every channel (DESIGN.md "Agent content").
/// </summary>
public enum DeltaChannel : byte
{
    /// <summary>The answer text (<c>delta.content</c>).</summary>
    Content = 0,

    /// <summary>The model's reasoning (<c>delta.reasoning_content</c>, Anthropic thinking blocks).</summary>
    Reasoning = 1,

    /// <summary>A fragment of a tool call's arguments; the first fragment of a call carries its id and name.</summary>
    ToolCall = 2,

    /// <summary>A refusal message (<c>delta.refusal</c>).</summary>
    Refusal = 3,
}
