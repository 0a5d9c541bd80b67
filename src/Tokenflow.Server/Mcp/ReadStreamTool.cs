using System.Text.Json.Serialization;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Streams;

namespace Tokenflow.Server.Mcp;

/// <summary>
/// <c>read_stream</c>: the text a stream produced after a cursor. Returns at once when there is
/// something new; otherwise waits up to <c>wait_ms</c> for it (long poll). The answer's
/// <c>status</c> describes the stream as of <c>last_seq</c>: "running" means more may follow.
/// </summary>
internal sealed class ReadStreamTool : StreamTool
{
    /// <summary>Longest accepted <c>wait_ms</c>.</summary>
    public const int MaxWaitMs = 30_000;

    /// <summary>Most text one call returns; the caller reads on from <c>last_seq</c>.</summary>
    private const int MaxTextBytes = 1024 * 1024;

    private readonly StreamAccess _streams;
    private readonly TimeProvider _time;

    public ReadStreamTool(StreamAccess streams, TimeProvider time)
        : base(
            new Tool
            {
                Name = "read_stream",
                Title = "Read a stream",
                Description = "Returns the text a stream generated after the event number 'after' (0 = from the start), with last_seq to pass "
                    + "as 'after' next time. If nothing new is there yet, waits up to wait_ms for it. Call again while status is \"running\"; "
                    + "\"completed\", \"cancelled\" or \"failed\" means the text is complete.",
                InputSchema = Schema($$"""
                    {
                      "type": "object",
                      "properties": {
                        "stream_id": { "type": "string", "description": "From start_generation (or generate's stream_id)." },
                        "after": { "type": "integer", "minimum": 0, "default": 0, "description": "Return what follows this event number: 0, or the last_seq of the previous read." },
                        "wait_ms": { "type": "integer", "minimum": 0, "maximum": {{MaxWaitMs}}, "default": 0, "description": "When nothing new is there yet, wait this long for it." }
                      },
                      "required": ["stream_id"],
                      "additionalProperties": false
                    }
                    """),
                OutputSchema = Schema($$"""
                    {
                      "type": "object",
                      "properties": {
                        "text": { "type": "string", "description": "The text generated after 'after' (possibly empty)." },
                        "last_seq": { "type": "integer", "description": "The last event number read: pass it as 'after' next time." },
                        "status": { "type": "string", "enum": {{StreamStateNames.SchemaEnum}}, "description": "running: more may follow; otherwise the stream has ended and the text is complete." },
                        "watches": { "type": "array", "description": "Watches of the generation that fired in the events read.", "items": { "type": "object", "properties": { "watch_id": { "type": "string" }, "seq": { "type": "integer" }, "match": {} }, "required": ["watch_id", "seq", "match"] } },
                        "reasoning": { "type": "string", "description": "The model's reasoning in the events read, when it gave any." },
                        "tool_calls": { "type": "array", "description": "Tool calls the model wrote in the events read: per call, the argument text read now (append it to earlier reads of the same index); id and name when the call started in these events.", "items": { "type": "object", "properties": { "index": { "type": "integer" }, "id": { "type": "string" }, "name": { "type": "string" }, "arguments": { "type": "string" } }, "required": ["index", "arguments"] } }
                      },
                      "required": ["text", "last_seq", "status"]
                    }
                    """),
                Annotations = new ToolAnnotations { ReadOnlyHint = true, IdempotentHint = true, OpenWorldHint = false },
            },
            ["stream_id", "after", "wait_ms"])
    {
        _streams = streams;
        _time = time;
    }

    protected override async ValueTask<CallToolResult> InvokeAsync(RequestContext<CallToolRequestParams> request, ToolArguments args, CancellationToken cancellationToken)
    {
        var id = args.String("stream_id", required: true);
        var after = args.Integer("after", 0, long.MaxValue) ?? 0;
        var waitMs = args.Integer("wait_ms", 0, MaxWaitMs) ?? 0;
        if (args.Error is { } error)
        {
            return Failure(error);
        }

        var store = _streams.Store;
        if (await _streams.FindAsync(id!, cancellationToken) is null || await store.GetStatusAsync(id!, cancellationToken) is not { } status)
        {
            return Failure(StreamAccess.NotFound(id!));
        }

        if (after > status.LastSeq)
        {
            return Failure($"'after' ({after}) is past the last event of stream '{id}' ({status.LastSeq}): pass 0 or the last_seq of a previous read.");
        }

        var (opened, reader) = await store.OpenReaderAsync(id!, after, cancellationToken);
        if (opened == StreamOpenStatus.Truncated)
        {
            return Failure($"The events after {after} of stream '{id}' are no longer held; read from a later position.");
        }

        if (reader is null)
        {
            return Failure(StreamAccess.NotFound(id!));
        }

        var tail = new StreamTail(after, MaxTextBytes);
        var state = StreamState.Running;
        await using (reader)
        {
            await tail.DrainStoredAsync(reader, status.LastSeq, cancellationToken);
            if (tail.LastSeq == after && tail.EndState is null && waitMs > 0)
            {
                await WaitAsync(reader, tail, TimeSpan.FromMilliseconds(waitMs), cancellationToken);
            }

            if (tail.EndState is { } end)
            {
                state = end;
            }
            else if (!tail.IsFull && await store.GetStatusAsync(id!, cancellationToken) is { State: not StreamState.Running } ended)
            {
                // It ended after the drain, so its terminal event is in the log now; or the cursor
                // was already past it. Either way the text up to the end is readable at once.
                await tail.DrainStoredAsync(reader, ended.LastSeq, cancellationToken);
                state = tail.EndState ?? ended.State;
            }
        }

        return Success(new Output(tail.Text, tail.LastSeq, StreamStateNames.ToWire(state), tail.Watches) { Reasoning = tail.Reasoning, ToolCalls = tail.ToolCalls }, McpJsonContext.Default.ReadStreamOutput);
    }

    private async Task WaitAsync(IStreamReader reader, StreamTail tail, TimeSpan wait, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(wait, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            while (await reader.WaitToReadAsync(linked.Token) && !tail.Drain(reader))
            {
                // Woken with nothing to read (an interrupt): keep waiting.
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // wait_ms passed with nothing new: answer with the empty text.
        }
    }

    /// <summary>The structured result.</summary>
    internal sealed record Output(
        [property: JsonPropertyName("text")] string Text,
        [property: JsonPropertyName("last_seq")] long LastSeq,
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("watches"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] List<McpWatch>? Watches)
    {
        [JsonPropertyName("reasoning")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? Reasoning { get; init; }

        [JsonPropertyName("tool_calls")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public List<McpToolCallFragment>? ToolCalls { get; init; }
    }
}
