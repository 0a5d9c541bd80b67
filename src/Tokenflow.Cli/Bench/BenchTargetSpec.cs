namespace Tokenflow.Cli.Bench;

/// <summary>One thing to measure: a kind of door and where it is.</summary>
/// <param name="Kind">The protocol.</param>
/// <param name="Address">The endpoint URL, or for <see cref="BenchTargetKind.McpStdio"/> the command line.</param>
/// <param name="Label">A name for reports (<c>--label</c>); null = kind and address.</param>
internal sealed record BenchTargetSpec(BenchTargetKind Kind, string Address, string? Label = null)
{
    /// <summary>The option that names this kind on the command line.</summary>
    public string Option => Kind switch
    {
        BenchTargetKind.ChatCompletions => "--url",
        BenchTargetKind.AnthropicMessages => "--anthropic",
        BenchTargetKind.Responses => "--responses",
        BenchTargetKind.Mcp => "--mcp",
        _ => "--mcp-stdio",
    };

    /// <summary>The kind as the report names it.</summary>
    public string KindName => Kind switch
    {
        BenchTargetKind.ChatCompletions => "openai-chat",
        BenchTargetKind.AnthropicMessages => "anthropic-messages",
        BenchTargetKind.Responses => "openai-responses",
        BenchTargetKind.Mcp => "mcp-http",
        _ => "mcp-stdio",
    };
}

/// <summary>The protocols <c>tokenflow bench</c> measures.</summary>
internal enum BenchTargetKind
{
    /// <summary>OpenAI chat completions, <c>"stream": true</c>.</summary>
    ChatCompletions,

    /// <summary>Anthropic Messages, <c>"stream": true</c>.</summary>
    AnthropicMessages,

    /// <summary>OpenAI Responses, <c>"stream": true</c>.</summary>
    Responses,

    /// <summary>An MCP server over Streamable HTTP: a tool call with a progress token.</summary>
    Mcp,

    /// <summary>An MCP server started as a process, over stdio: a tool call with a progress token.</summary>
    McpStdio,
}
