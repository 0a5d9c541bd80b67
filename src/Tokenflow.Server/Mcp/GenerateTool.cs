using System.Text;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Streams;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Mcp;

/// <summary>
/// <c>generate</c>: runs a generation to its end and returns the whole text. When the call carries
/// a progress token, every delta is sent as it is read from the stream, as
/// <c>notifications/progress</c> with <c>progress</c> = deltas so far, <c>total</c> = the token budget
/// (<c>max_tokens</c>) and <c>message</c> = the new text (the first one also names the stream in
/// <c>_meta</c>). A <c>notifications/cancelled</c> cancels the generation at once. A closed HTTP
/// response cancels it at once when the call cannot be resumed (stateless); in a resumable session the
/// client may reconnect with <c>Last-Event-ID</c>, and the generation stops only once it has been gone
/// longer than the store's resume grace.
/// </summary>
internal sealed class GenerateTool : StreamTool
{
    /// <summary>The <c>_meta</c> key that carries the stream id on the first progress notification.</summary>
    public const string StreamIdMetaKey = "tokenflow/stream_id";

    private readonly GenerationArguments _generation;
    private readonly GenerationRunner _runner;
    private readonly StreamAccess _streams;
    private readonly McpEventStreamStore _events;

    public GenerateTool(GenerationArguments generation, GenerationRunner runner, StreamAccess streams, McpEventStreamStore events)
        : base(
            new Tool
            {
                Name = "generate",
                Title = "Generate text",
                Description = "Generates text with a Tokenflow model and returns the whole output. If you send a progress token, "
                    + "each new piece of text arrives while the model writes it, as a progress notification whose message is that piece "
                    + "(progress = pieces so far). Cancelling the call stops the model at once. If your client does not show progress, "
                    + "use start_generation and read_stream to act on partial output.",
                InputSchema = generation.InputSchema,
                OutputSchema = Schema($$"""
                    {
                      "type": "object",
                      "properties": {
                        "text": { "type": "string", "description": "The whole output." },
                        "stream_id": { "type": "string", "description": "The generation's stream (also readable at /v1/streams/{id}/events)." },
                        "finish_reason": { "type": "string", "enum": ["stop", "length", "cancelled", "tool_calls", "content_filter"], "description": "stop: the model ended or a stop sequence matched; length: max_tokens reached; cancelled: stopped by cancel_stream; tool_calls: the model called tools." },
                        "usage": {{ToolUsage.Schema}},
                        "reasoning": { "type": "string", "description": "The model's reasoning, when it gave any." },
                        "tool_calls": { "type": "array", "description": "The tools the model called.", "items": { "type": "object", "properties": { "id": { "type": "string" }, "name": { "type": "string" }, "arguments": { "type": "string", "description": "JSON arguments." } }, "required": ["id", "name", "arguments"] } },
                        "watches": { "type": "array", "description": "Watches that fired.", "items": { "type": "object", "properties": { "watch_id": { "type": "string" }, "seq": { "type": "integer" }, "match": {} }, "required": ["watch_id", "seq", "match"] } }
                      },
                      "required": ["text", "stream_id", "finish_reason", "usage"]
                    }
                    """),
                Annotations = new ToolAnnotations { ReadOnlyHint = true, OpenWorldHint = false },
            },
            GenerationArguments.Names)
    {
        _generation = generation;
        _runner = runner;
        _streams = streams;
        _events = events;
    }

    protected override async ValueTask<CallToolResult> InvokeAsync(RequestContext<CallToolRequestParams> request, ToolArguments args, CancellationToken cancellationToken)
    {
        var completion = _generation.Read(args, _streams.Owner, background: false, out var error);
        if (completion is null)
        {
            return Failure(error!);
        }

        // A resumable call (its SSE stream is in the event store) outlives its connection: the MCP transport says a
        // disconnection SHOULD NOT be read as a cancellation, so the model stops only once the client has been gone
        // longer than the store's resume grace. A call that cannot be resumed (stateless, or a client too old for
        // priming events) stops when its response closes: its output would be lost otherwise.
        var callerGone = _events.ClientGone(request.Server.SessionId, request.JsonRpcRequest.Id.Id?.ToString()) ?? _streams.RequestAborted;
        using var callEnded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, callerGone);
        cancellationToken = callEnded.Token;

        var started = await _runner.StartAsync(completion.Model, completion.Backend, completion.Generation, cancellationToken);
        if (started.StreamId is not { } id)
        {
            return Failure(OpenAiError.StartRefused(started.Status).Message);
        }

        var ended = false;
        try
        {
            var (_, reader) = await _streams.Store.OpenReaderAsync(id, 0, cancellationToken);
            if (reader is null)
            {
                return Failure(StreamAccess.NotFound(id));
            }

            await using (reader)
            {
                var progressToken = request.Params?.ProgressToken;
                var budget = completion.Generation.MaxTokens;
                var output = new StreamOutput();
                var deltas = 0;
                while (await reader.WaitToReadAsync(cancellationToken))
                {
                    while (reader.TryRead(out var item))
                    {
                        output.Add(in item);
                        switch (item.Kind)
                        {
                            case StreamEventKind.Delta when item.Channel == DeltaChannel.Content:
                            case StreamEventKind.Watch:
                                deltas++;
                                if (progressToken is { } token)
                                {
                                    var message = item.Kind == StreamEventKind.Watch ? McpWatch.ProgressMessage(item.Watch!) : Encoding.UTF8.GetString(item.Text.Span);
                                    await request.Server.NotifyProgressAsync(
                                        new ProgressNotificationParams
                                        {
                                            ProgressToken = token,
                                            Progress = new ProgressNotificationValue { Progress = deltas, Total = budget, Message = message },
                                            Meta = deltas == 1 ? new JsonObject { [StreamIdMetaKey] = id } : null,
                                        },
                                        cancellationToken);
                                }

                                break;
                            case StreamEventKind.Done:
                                ended = true;
                                var result = ToOutput(output, id, in item);
                                return Success(result, McpJsonContext.Default.GenerateOutput, result.Text);
                            case StreamEventKind.Error:
                                ended = true;
                                return Failure($"The generation failed after {item.Usage.CompletionTokens} tokens: {item.Error?.Message} (stream {id}).");
                        }
                    }
                }
            }

            // Unreachable for a well-formed stream (it always ends with done or error); answer anyway.
            return Failure($"The stream {id} ended without a result.");
        }
        finally
        {
            if (!ended)
            {
                // The call ended early (cancelled, or the client went away): stop the model now.
                await _streams.Store.CancelAsync(id, CancellationToken.None);
            }
        }
    }

    private static Output ToOutput(StreamOutput output, string id, in StreamEvent done) => new(
        Encoding.UTF8.GetString(output.Content),
        id,
        done.FinishReason.ToWire()!,
        ToolUsage.From(done.Usage))
    {
        Reasoning = output.HasReasoning ? Encoding.UTF8.GetString(output.Reasoning) : null,
        ToolCalls = output.ToolCalls.Count == 0 ? null : output.ToolCalls.Select(c => new McpToolCall(c.Id, c.Name, c.ArgumentsText)).ToList(),
        Watches = output.Watches.Count == 0 ? null : output.Watches.Select(McpWatch.From).ToList(),
    };

    /// <summary>The structured result.</summary>
    internal sealed record Output(
        [property: JsonPropertyName("text")] string Text,
        [property: JsonPropertyName("stream_id")] string StreamId,
        [property: JsonPropertyName("finish_reason")] string FinishReason,
        [property: JsonPropertyName("usage")] ToolUsage Usage)
    {
        [JsonPropertyName("reasoning")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? Reasoning { get; init; }

        [JsonPropertyName("tool_calls")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public List<McpToolCall>? ToolCalls { get; init; }

        [JsonPropertyName("watches")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public List<McpWatch>? Watches { get; init; }
    }
}
