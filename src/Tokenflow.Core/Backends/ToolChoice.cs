namespace Tokenflow.Core.Backends;

/// <summary>How the model may use the request's tools (<c>tool_choice</c>).</summary>
/// <param name="Mode">none, auto, required, or one named function.</param>
/// <param name="FunctionName">The function that must be called when <paramref name="Mode"/> is <see cref="ToolChoiceMode.Function"/>.</param>
public sealed record ToolChoice(ToolChoiceMode Mode, string? FunctionName = null)
{
    /// <summary><c>"none"</c>: answer with text.</summary>
    public static ToolChoice None { get; } = new(ToolChoiceMode.None);

    /// <summary><c>"auto"</c>: the model decides (the default when tools are given).</summary>
    public static ToolChoice Auto { get; } = new(ToolChoiceMode.Auto);

    /// <summary><c>"required"</c>: the model must call at least one tool.</summary>
    public static ToolChoice Required { get; } = new(ToolChoiceMode.Required);
}

/// <summary>The kinds of <see cref="ToolChoice"/>.</summary>
public enum ToolChoiceMode
{
    /// <summary>No tool calls.</summary>
    None,

    /// <summary>The model decides.</summary>
    Auto,

    /// <summary>At least one tool call.</summary>
    Required,

    /// <summary>A call of the named function.</summary>
    Function,
}
