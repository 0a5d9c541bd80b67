using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Text.Json;
using Tokenflow.Core.Streams;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Anthropic;

/// <summary>
/// Renders a stream's events as the Anthropic Messages SSE sequence: <c>message_start</c>, <c>ping</c>, then per
/// content block <c>content_block_start</c> / <c>content_block_delta</c> (<c>text_delta</c>, <c>thinking_delta</c>,
/// <c>input_json_delta</c>) / <c>content_block_stop</c> — a block per run of one channel, a <c>tool_use</c> block
/// per tool call — then <c>message_delta</c> (stop reason, usage) and <c>message_stop</c>; a failure is
/// <c>event: error</c>. Every SSE event carries <c>id: &lt;seq&gt;</c> of the log event it renders, so a client
/// resumes with <c>Last-Event-ID</c>. Events up to <c>silentThrough</c> only advance the block state (a resumed
/// reader continues the same block numbering). One per response; not thread-safe.
/// </summary>
internal sealed class MessagesSseWriter : IDisposable
{
    private readonly PipeWriter _output;
    private readonly string _id;
    private readonly string _model;
    private readonly long _silentThrough;
    private readonly Utf8JsonWriter _json = new(Stream.Null, JsonWriting.Fragment);
    private int _block = -1;
    private Block _open = Block.None;
    private int _toolIndex = -1;
    private Usage _usage;

    public MessagesSseWriter(PipeWriter output, string id, string model, long silentThrough)
    {
        _output = output;
        _id = id;
        _model = model;
        _silentThrough = silentThrough;
    }

    private enum Block
    {
        None,
        Text,
        Thinking,
        ToolUse,
    }

    /// <summary>True once the terminal event was written.</summary>
    public bool Ended { get; private set; }

    /// <summary>Writes the opening <c>message_start</c> and <c>ping</c> (a fresh response only).</summary>
    public void WriteStart()
    {
        Event("message_start"u8, 0, w =>
        {
            w.WriteString("type"u8, "message_start"u8);
            w.WriteStartObject("message"u8);
            w.WriteString("id"u8, _id);
            w.WriteString("type"u8, "message"u8);
            w.WriteString("role"u8, "assistant"u8);
            w.WriteStartArray("content"u8);
            w.WriteEndArray();
            w.WriteString("model"u8, _model);
            w.WriteNull("stop_reason"u8);
            w.WriteNull("stop_sequence"u8);
            w.WriteStartObject("usage"u8);
            w.WriteNumber("input_tokens"u8, 0);
            w.WriteNumber("output_tokens"u8, 0);
            w.WriteEndObject();
            w.WriteEndObject();
        });
        Event("ping"u8, 0, static w => w.WriteString("type"u8, "ping"u8));
    }

    /// <summary>Writes a heartbeat (Anthropic's own <c>ping</c> event).</summary>
    public void WritePing() => Event("ping"u8, 0, static w => w.WriteString("type"u8, "ping"u8));

    /// <summary>Renders one event (not flushed).</summary>
    public void Write(in StreamEvent item)
    {
        var emit = item.Seq > _silentThrough;
        switch (item.Kind)
        {
            case StreamEventKind.Delta:
                WriteDelta(in item, emit);
                break;
            case StreamEventKind.Usage:
                _usage = item.Usage;
                break;
            case StreamEventKind.Done:
                Close(item.Seq, emit);
                if (emit)
                {
                    var reason = StopReason(item.FinishReason);
                    var usage = item.Usage.CompletionTokens == 0 && _usage.TotalTokens > 0 ? _usage : item.Usage;
                    Event("message_delta"u8, item.Seq, w =>
                    {
                        w.WriteString("type"u8, "message_delta"u8);
                        w.WriteStartObject("delta"u8);
                        w.WriteString("stop_reason"u8, reason);
                        w.WriteNull("stop_sequence"u8);
                        w.WriteEndObject();
                        w.WriteStartObject("usage"u8);
                        w.WriteNumber("input_tokens"u8, usage.PromptTokens);
                        w.WriteNumber("output_tokens"u8, usage.CompletionTokens);
                        w.WriteEndObject();
                    });
                    Event("message_stop"u8, item.Seq, static w => w.WriteString("type"u8, "message_stop"u8));
                }

                Ended = true;
                break;
            case StreamEventKind.Error:
                WriteError(item.Seq, item.Error!);
                break;
        }
    }

    /// <summary>Writes a terminal <c>error</c> event.</summary>
    public void WriteError(long seq, StreamError error)
    {
        var type = AnthropicError.TypeFor(error);
        Event("error"u8, seq, w =>
        {
            w.WriteString("type"u8, "error"u8);
            w.WriteStartObject("error"u8);
            w.WriteString("type"u8, type);
            w.WriteString("message"u8, error.Message);
            w.WriteEndObject();
        });
        Ended = true;
    }

    /// <summary>Anthropic's stop reason for a finish reason.</summary>
    public static string StopReason(FinishReason reason) => reason switch
    {
        FinishReason.Length => "max_tokens",
        FinishReason.ToolCalls => "tool_use",
        FinishReason.ContentFilter => "refusal",
        FinishReason.Cancelled => "cancelled",
        _ => "end_turn",
    };

    public void Dispose() => _json.Dispose();

    private void WriteDelta(in StreamEvent item, bool emit)
    {
        var kind = item.Channel switch
        {
            DeltaChannel.Reasoning => Block.Thinking,
            DeltaChannel.ToolCall => Block.ToolUse,
            _ => Block.Text,
        };
        var seq = item.Seq;
        if (kind != _open || (kind == Block.ToolUse && item.ToolCallIndex != _toolIndex))
        {
            Close(seq, emit);
            _open = kind;
            _block++;
            _toolIndex = kind == Block.ToolUse ? item.ToolCallIndex : -1;
            if (emit)
            {
                var index = _block;
                var id = item.ToolCallId ?? $"toolu_{_id}_{item.ToolCallIndex}";
                var name = item.ToolName ?? string.Empty;
                Event("content_block_start"u8, seq, w =>
                {
                    w.WriteString("type"u8, "content_block_start"u8);
                    w.WriteNumber("index"u8, index);
                    w.WriteStartObject("content_block"u8);
                    switch (kind)
                    {
                        case Block.Thinking:
                            w.WriteString("type"u8, "thinking"u8);
                            w.WriteString("thinking"u8, ""u8);
                            break;
                        case Block.ToolUse:
                            w.WriteString("type"u8, "tool_use"u8);
                            w.WriteString("id"u8, id);
                            w.WriteString("name"u8, name);
                            w.WriteStartObject("input"u8);
                            w.WriteEndObject();
                            break;
                        default:
                            w.WriteString("type"u8, "text"u8);
                            w.WriteString("text"u8, ""u8);
                            break;
                    }

                    w.WriteEndObject();
                });
            }
        }

        if (!emit || item.Text.IsEmpty)
        {
            return;
        }

        var block = _block;
        var text = item.Text;
        Event("content_block_delta"u8, seq, w =>
        {
            w.WriteString("type"u8, "content_block_delta"u8);
            w.WriteNumber("index"u8, block);
            w.WriteStartObject("delta"u8);
            switch (kind)
            {
                case Block.Thinking:
                    w.WriteString("type"u8, "thinking_delta"u8);
                    w.WriteString("thinking"u8, text.Span);
                    break;
                case Block.ToolUse:
                    w.WriteString("type"u8, "input_json_delta"u8);
                    w.WriteString("partial_json"u8, text.Span);
                    break;
                default:
                    w.WriteString("type"u8, "text_delta"u8);
                    w.WriteString("text"u8, text.Span);
                    break;
            }

            w.WriteEndObject();
        });
    }

    private void Close(long seq, bool emit)
    {
        if (_open == Block.None)
        {
            return;
        }

        if (emit)
        {
            var index = _block;
            Event("content_block_stop"u8, seq, w =>
            {
                w.WriteString("type"u8, "content_block_stop"u8);
                w.WriteNumber("index"u8, index);
            });
        }

        _open = Block.None;
    }

    /// <summary>Writes <c>[id: seq\n]event: name\ndata: {…}\n\n</c>.</summary>
    private void Event(ReadOnlySpan<byte> name, long seq, Action<Utf8JsonWriter> fields)
    {
        if (seq > 0)
        {
            _output.Write("id: "u8);
            var span = _output.GetSpan(20);
            Utf8Formatter.TryFormat(seq, span, out var written);
            _output.Advance(written);
            _output.Write("\n"u8);
        }

        _output.Write("event: "u8);
        _output.Write(name);
        _output.Write("\ndata: "u8);
        _json.Reset(_output);
        _json.WriteStartObject();
        fields(_json);
        _json.WriteEndObject();
        _json.Flush();
        _output.Write("\n\n"u8);
    }
}
