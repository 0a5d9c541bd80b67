using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Tokenflow.Server.Mcp;

/// <summary>
/// Base of Tokenflow's MCP tools. Each tool declares its schemas by hand and reads its arguments
/// raw through <see cref="ToolArguments"/>, so a wrong argument gets a specific message. Expected
/// failures (bad arguments, unknown streams, a full store) are tool results with
/// <c>isError: true</c> — something the model can read and correct — never protocol errors.
/// </summary>
internal abstract class StreamTool : McpServerTool
{
    private readonly IReadOnlyCollection<string> _argumentNames;

    protected StreamTool(Tool tool, IReadOnlyCollection<string> argumentNames)
    {
        ProtocolTool = tool;
        _argumentNames = argumentNames;
    }

    /// <inheritdoc />
    public sealed override Tool ProtocolTool { get; }

    /// <inheritdoc />
    public sealed override IReadOnlyList<object> Metadata { get; } = [];

    /// <inheritdoc />
    public sealed override ValueTask<CallToolResult> InvokeAsync(RequestContext<CallToolRequestParams> request, CancellationToken cancellationToken = default)
        => InvokeAsync(request, new ToolArguments(request.Params?.Arguments, _argumentNames), cancellationToken);

    /// <summary>Runs the tool. <paramref name="args"/> may already hold an error (an unknown argument name).</summary>
    protected abstract ValueTask<CallToolResult> InvokeAsync(RequestContext<CallToolRequestParams> request, ToolArguments args, CancellationToken cancellationToken);

    /// <summary>A tool error the caller's model can read: <c>isError: true</c> and the message as text.</summary>
    protected static CallToolResult Failure(string message) => new()
    {
        IsError = true,
        Content = [new TextContentBlock { Text = message }],
    };

    /// <summary>
    /// A result with <paramref name="value"/> as <c>structuredContent</c> and, for clients that only
    /// read content blocks, <paramref name="text"/> (by default the same JSON) as text content.
    /// </summary>
    protected static CallToolResult Success<T>(T value, JsonTypeInfo<T> typeInfo, string? text = null)
    {
        var structured = JsonSerializer.SerializeToElement(value, typeInfo);
        return new CallToolResult
        {
            Content = [new TextContentBlock { Text = text ?? structured.GetRawText() }],
            StructuredContent = structured,
        };
    }

    /// <summary>Parses a schema written in the tool's source.</summary>
    protected static JsonElement Schema(string json) => JsonDocument.Parse(json).RootElement.Clone();
}
