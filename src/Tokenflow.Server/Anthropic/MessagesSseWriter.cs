using System.IO.Pipelines;
using System.Text.Json;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Hosting;

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
    private readonly string _id;
    private readonly string _model;
    private readonly long _silentThrough;
    private readonly SseJsonEventWriter _events;
    private int _block = -1;
    private Block _open = Block.None;
    private int _toolIndex = -1;
    private Usage _usage;

    public MessagesSseWriter(PipeWriter output, string id, string model, long silentThrough)
    {
        _events = new SseJsonEventWriter(output);
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
        var w = Begin("message_start"u8, 0);
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
        End();
        WritePing();
    }

    /// <summary>Writes a heartbeat (Anthropic's own <c>ping</c> event).</summary>
    public void WritePing()
    {
        Begin("ping"u8, 0);
        End();
    }

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
                    var usage = item.Usage.CompletionTokens == 0 && _usage.TotalTokens > 0 ? _usage : item.Usage;
                    var w = Begin("message_delta"u8, item.Seq);
                    w.WriteStartObject("delta"u8);
                    WriteStopReason(w, in item);
                    w.WriteEndObject();
                    w.WriteStartObject("usage"u8);
                    w.WriteNumber("input_tokens"u8, usage.PromptTokens);
                    w.WriteNumber("output_tokens"u8, usage.CompletionTokens);
                    w.WriteEndObject();
                    End();
                    Begin("message_stop"u8, item.Seq);
                    End();
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
        var w = Begin("error"u8, seq);
        w.WriteStartObject("error"u8);
        w.WriteString("type"u8, AnthropicError.TypeFor(error));
        w.WriteString("message"u8, error.Message);
        w.WriteEndObject();
        End();
        Ended = true;
    }

    /// <summary>
    /// Writes <c>stop_reason</c> and <c>stop_sequence</c> for a terminal event: <c>stop_sequence</c> and the
    /// sequence when one of the request's <c>stop_sequences</c> ended the message.
    /// </summary>
    public static void WriteStopReason(Utf8JsonWriter w, in StreamEvent final)
    {
        if (final.StopSequence is { } stop)
        {
            w.WriteString("stop_reason"u8, "stop_sequence"u8);
            w.WriteString("stop_sequence"u8, stop);
            return;
        }

        w.WriteString("stop_reason"u8, final.FinishReason switch
        {
            FinishReason.Length => "max_tokens"u8,
            FinishReason.ToolCalls => "tool_use"u8,
            FinishReason.ContentFilter => "refusal"u8,
            FinishReason.Cancelled => "cancelled"u8,
            _ => "end_turn"u8,
        });
        w.WriteNull("stop_sequence"u8);
    }

    public void Dispose() => _events.Dispose();

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
                var w = Begin("content_block_start"u8, seq);
                w.WriteNumber("index"u8, _block);
                w.WriteStartObject("content_block"u8);
                switch (kind)
                {
                    case Block.Thinking:
                        w.WriteString("type"u8, "thinking"u8);
                        w.WriteString("thinking"u8, ""u8);
                        break;
                    case Block.ToolUse:
                        w.WriteString("type"u8, "tool_use"u8);
                        if (item.ToolCallId is { } id)
                        {
                            w.WriteString("id"u8, id);
                        }
                        else
                        {
                            w.WriteString("id"u8, $"toolu_{_id}_{item.ToolCallIndex}");
                        }

                        w.WriteString("name"u8, item.ToolName ?? string.Empty);
                        w.WriteStartObject("input"u8);
                        w.WriteEndObject();
                        break;
                    default:
                        w.WriteString("type"u8, "text"u8);
                        w.WriteString("text"u8, ""u8);
                        break;
                }

                w.WriteEndObject();
                End();
            }
        }

        if (!emit || item.Text.IsEmpty)
        {
            return;
        }

        var delta = Begin("content_block_delta"u8, seq);
        delta.WriteNumber("index"u8, _block);
        delta.WriteStartObject("delta"u8);
        switch (kind)
        {
            case Block.Thinking:
                delta.WriteString("type"u8, "thinking_delta"u8);
                delta.WriteString("thinking"u8, item.Text.Span);
                break;
            case Block.ToolUse:
                delta.WriteString("type"u8, "input_json_delta"u8);
                delta.WriteString("partial_json"u8, item.Text.Span);
                break;
            default:
                delta.WriteString("type"u8, "text_delta"u8);
                delta.WriteString("text"u8, item.Text.Span);
                break;
        }

        delta.WriteEndObject();
        End();
    }

    private void Close(long seq, bool emit)
    {
        if (_open == Block.None)
        {
            return;
        }

        if (emit)
        {
            Begin("content_block_stop"u8, seq).WriteNumber("index"u8, _block);
            End();
        }

        _open = Block.None;
    }

    /// <summary>Starts an event, with <c>id: seq</c> when it renders a log event (seq &gt; 0).</summary>
    private Utf8JsonWriter Begin(ReadOnlySpan<byte> name, long seq) => _events.Begin(name, seq > 0 ? seq : -1);

    private void End() => _events.End();
}
