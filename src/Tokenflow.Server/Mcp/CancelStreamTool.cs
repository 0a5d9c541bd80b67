using System.Text.Json.Serialization;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Streams;

namespace Tokenflow.Server.Mcp;

/// <summary>
/// <c>cancel_stream</c>: stops a generation (the backend stops within one token) and answers with
/// the stream's final state once its terminal event is written. Cancelling an ended stream changes
/// nothing and reports how it ended.
/// </summary>
internal sealed class CancelStreamTool : StreamTool
{
    /// <summary>How long to wait for the generation to write its terminal event before answering anyway.</summary>
    private static readonly TimeSpan EndTimeout = TimeSpan.FromSeconds(5);

    private readonly StreamAccess _streams;

    public CancelStreamTool(StreamAccess streams)
        : base(
            new Tool
            {
                Name = "cancel_stream",
                Title = "Cancel a stream",
                Description = "Stops a generation early. Returns the stream's status afterwards (\"cancelled\", or how it had already ended), "
                    + "its last event number and token usage. The text generated so far stays readable with read_stream.",
                InputSchema = Schema("""
                    {
                      "type": "object",
                      "properties": {
                        "stream_id": { "type": "string", "description": "From start_generation (or generate's stream_id)." }
                      },
                      "required": ["stream_id"],
                      "additionalProperties": false
                    }
                    """),
                OutputSchema = Schema($$"""
                    {
                      "type": "object",
                      "properties": {
                        "stream_id": { "type": "string" },
                        "status": { "type": "string", "enum": {{StreamStateNames.SchemaEnum}} },
                        "last_seq": { "type": "integer" },
                        "usage": {{ToolUsage.Schema}}
                      },
                      "required": ["stream_id", "status", "last_seq", "usage"]
                    }
                    """),
                Annotations = new ToolAnnotations { ReadOnlyHint = false, DestructiveHint = true, IdempotentHint = true, OpenWorldHint = false },
            },
            ["stream_id"])
    {
        _streams = streams;
    }

    protected override async ValueTask<CallToolResult> InvokeAsync(RequestContext<CallToolRequestParams> request, ToolArguments args, CancellationToken cancellationToken)
    {
        var id = args.String("stream_id", required: true);
        if (args.Error is { } error)
        {
            return Failure(error);
        }

        if (await _streams.Streams.CancelAsync(id, _streams.Owner, EndTimeout, cancellationToken) is not { } status)
        {
            return Failure(StreamAccess.NotFound(id!));
        }

        return Success(new Output(id!, StreamStateNames.ToWire(status.State), status.LastSeq, ToolUsage.From(status.Usage)), McpJsonContext.Default.CancelStreamOutput);
    }

    /// <summary>The structured result.</summary>
    internal sealed record Output(
        [property: JsonPropertyName("stream_id")] string StreamId,
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("last_seq")] long LastSeq,
        [property: JsonPropertyName("usage")] ToolUsage Usage);
}
