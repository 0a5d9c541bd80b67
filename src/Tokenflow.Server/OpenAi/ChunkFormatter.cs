using System.Buffers;
using System.Text;
using System.Text.Json;
using Tokenflow.Core.Streams;

namespace Tokenflow.Server.OpenAi;

/// <summary>
/// Writes a stream event as the OpenAI chunk JSON clients expect (<c>chat.completion.chunk</c> or
/// <c>text_completion</c>) into any <see cref="IBufferWriter{T}"/>; SSE and WebSocket framing wrap
/// it. The parts of a delta chunk that never change for a stream (id, object, created, model) are
/// encoded once, so a delta costs one seq, one escaped string and no allocation. Reasoning,
/// refusal and tool-call deltas (chat only) are <c>delta.reasoning_content</c>,
/// <c>delta.refusal</c> and <c>delta.tool_calls</c> exactly as OpenAI streams them; a watch event is
/// a chunk with <c>"choices":[]</c> and <c>"tokenflow":{"watch":…}</c>. Usage events
/// become the finish chunk (<c>finish_reason</c>); the done event becomes the usage chunk
/// (<c>choices: []</c>) when usage was asked for. One instance per response; not thread-safe.
/// </summary>
internal sealed class ChunkFormatter : IDisposable
{
    private readonly CompletionKind _kind;
    private readonly string _streamId;
    private readonly string _model;
    private readonly long _created;
    private readonly byte[] _deltaPrefix;
    private readonly byte[] _firstDeltaPrefix;
    private readonly byte[] _deltaSuffix;
    private readonly Utf8JsonWriter _json = new(Stream.Null, JsonWriting.Fragment);
    private readonly PartialJsonRenderer? _partial;

    public ChunkFormatter(CompletionKind kind, string streamId, string model, long created, bool includeUsage, bool partialJson = false)
    {
        _partial = partialJson && kind == CompletionKind.Chat ? new PartialJsonRenderer() : null;
        _kind = kind;
        _streamId = streamId;
        _model = model;
        _created = created;
        IncludeUsage = includeUsage;

        var head = ChunkHead();
        if (kind == CompletionKind.Chat)
        {
            _deltaPrefix = Encoding.UTF8.GetBytes(head + "\"choices\":[{\"index\":0,\"delta\":{\"content\":");
            _firstDeltaPrefix = Encoding.UTF8.GetBytes(head + "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":");
            _deltaSuffix = "},\"logprobs\":null,\"finish_reason\":null}]}"u8.ToArray();
        }
        else
        {
            _deltaPrefix = Encoding.UTF8.GetBytes(head + "\"choices\":[{\"index\":0,\"text\":");
            _firstDeltaPrefix = _deltaPrefix;
            _deltaSuffix = ",\"logprobs\":null,\"finish_reason\":null}]}"u8.ToArray();
        }
    }

    /// <summary>True when the done event carries a usage chunk.</summary>
    public bool IncludeUsage { get; }

    /// <summary>True when <paramref name="streamEvent"/> has a chunk (error events and, without usage, done events do not).</summary>
    public bool HasChunk(in StreamEvent streamEvent) => streamEvent.Kind switch
    {
        StreamEventKind.Delta => _kind == CompletionKind.Chat || streamEvent.Channel == DeltaChannel.Content,
        StreamEventKind.Usage or StreamEventKind.Watch => true,
        StreamEventKind.Done => IncludeUsage,
        _ => false,
    };

    /// <summary>Writes the chunk JSON of <paramref name="streamEvent"/>; call only when <see cref="HasChunk"/>.</summary>
    public void WriteChunk(IBufferWriter<byte> output, in StreamEvent streamEvent)
    {
        if (streamEvent.Kind == StreamEventKind.Delta)
        {
            var partial = _partial is null ? default : _partial.Add(in streamEvent);
            if (streamEvent.Channel == DeltaChannel.Content && partial.IsEmpty)
            {
                WriteDelta(output, streamEvent.Seq, streamEvent.Text.Span);
            }
            else
            {
                WriteChannelDelta(output, in streamEvent, partial);
            }
        }
        else if (streamEvent.Kind == StreamEventKind.Watch)
        {
            WriteWatch(output, streamEvent.Watch!);
        }
        else
        {
            WriteEnd(output, in streamEvent, finish: streamEvent.Kind == StreamEventKind.Usage);
        }
    }

    /// <summary>Writes a delta chunk.</summary>
    public void WriteDelta(IBufferWriter<byte> output, long seq, ReadOnlySpan<byte> text)
    {
        output.Write(seq == 1 ? _firstDeltaPrefix : _deltaPrefix);
        _json.Reset(output);
        _json.WriteStringValue(text);
        _json.Flush();
        output.Write(_deltaSuffix);
    }

    /// <summary>Writes <c>{"error":{…}}</c> for an error event.</summary>
    public void WriteError(IBufferWriter<byte> output, StreamError error)
    {
        _json.Reset(output);
        OpenAiError.WriteInnerWrapped(_json, error.Message, error.Type, null, error.Code);
        _json.Flush();
    }

    public void Dispose() => _json.Dispose();

    /// <summary>
    /// A reasoning, refusal or tool-call delta chunk (or a content chunk with a changed partial value),
    /// built with the JSON writer.
    /// </summary>
    private void WriteChannelDelta(IBufferWriter<byte> output, in StreamEvent streamEvent, ReadOnlySpan<byte> partial)
    {
        _json.Reset(output);
        var w = _json;
        WriteHead(w);
        w.WriteStartArray("choices"u8);
        w.WriteStartObject();
        w.WriteNumber("index"u8, 0);
        w.WriteStartObject("delta"u8);
        if (streamEvent.Seq == 1)
        {
            w.WriteString("role"u8, "assistant"u8);
        }

        switch (streamEvent.Channel)
        {
            case DeltaChannel.Content:
                w.WriteString("content"u8, streamEvent.Text.Span);
                break;
            case DeltaChannel.Reasoning:
                w.WriteString("reasoning_content"u8, streamEvent.Text.Span);
                break;
            case DeltaChannel.Refusal:
                w.WriteString("refusal"u8, streamEvent.Text.Span);
                break;
            default:
                // OpenAI: the first chunk of a call has index, id, type and name (and "" or the first
                // arguments); later chunks only index and more arguments.
                w.WriteStartArray("tool_calls"u8);
                w.WriteStartObject();
                w.WriteNumber("index"u8, streamEvent.ToolCallIndex);
                if (streamEvent.ToolCallId is { } id)
                {
                    w.WriteString("id"u8, id);
                    w.WriteString("type"u8, "function"u8);
                }

                w.WriteStartObject("function"u8);
                if (streamEvent.ToolName is { } name)
                {
                    w.WriteString("name"u8, name);
                }

                w.WriteString("arguments"u8, streamEvent.Text.Span);
                w.WriteEndObject();
                w.WriteEndObject();
                w.WriteEndArray();
                break;
        }

        w.WriteEndObject();
        w.WriteNull("logprobs"u8);
        w.WriteNull("finish_reason"u8);
        w.WriteEndObject();
        w.WriteEndArray();
        if (!partial.IsEmpty)
        {
            w.WriteStartObject("tokenflow"u8);
            if (streamEvent.Channel == DeltaChannel.Content)
            {
                w.WritePropertyName("partial"u8);
                w.WriteRawValue(partial, skipInputValidation: true);
            }
            else
            {
                w.WriteStartArray("partial_tool_calls"u8);
                w.WriteStartObject();
                w.WriteNumber("index"u8, streamEvent.ToolCallIndex);
                w.WritePropertyName("arguments"u8);
                w.WriteRawValue(partial, skipInputValidation: true);
                w.WriteEndObject();
                w.WriteEndArray();
            }

            w.WriteEndObject();
        }

        w.WriteEndObject();
        w.Flush();
    }

    /// <summary>A watch event: a chunk without choices whose <c>tokenflow.watch</c> says what matched where.</summary>
    private void WriteWatch(IBufferWriter<byte> output, WatchMatch watch)
    {
        _json.Reset(output);
        var w = _json;
        WriteHead(w);
        w.WriteStartArray("choices"u8);
        w.WriteEndArray();
        w.WriteStartObject("tokenflow"u8);
        WatchJson.Write(w, watch);
        w.WriteEndObject();
        w.WriteEndObject();
        w.Flush();
    }

    private void WriteHead(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("id"u8, _streamId);
        w.WriteString("object"u8, _kind == CompletionKind.Chat ? "chat.completion.chunk"u8 : "text_completion"u8);
        w.WriteNumber("created"u8, _created);
        w.WriteString("model"u8, _model);
    }

    /// <summary>The finish chunk or the usage chunk, built with the JSON writer: once per stream.</summary>
    private void WriteEnd(IBufferWriter<byte> output, in StreamEvent streamEvent, bool finish)
    {
        _json.Reset(output);
        var w = _json;
        WriteHead(w);
        w.WriteStartArray("choices"u8);
        if (finish)
        {
            w.WriteStartObject();
            w.WriteNumber("index"u8, 0);
            if (_kind == CompletionKind.Chat)
            {
                w.WriteStartObject("delta"u8);
                if (streamEvent.Seq == 1)
                {
                    w.WriteString("role"u8, "assistant"u8);
                }

                w.WriteEndObject();
            }
            else
            {
                w.WriteString("text"u8, ""u8);
            }

            w.WriteNull("logprobs"u8);
            w.WriteString("finish_reason"u8, streamEvent.FinishReason.ToWire());
            w.WriteEndObject();
        }

        w.WriteEndArray();
        if (!finish)
        {
            UsageJson.Write(w, streamEvent.Usage, streamEvent.Timings);
        }

        w.WriteEndObject();
        w.Flush();
    }

    private string ChunkHead()
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var w = new Utf8JsonWriter(buffer, JsonWriting.Options))
        {
            w.WriteStartObject();
            w.WriteString("id"u8, _streamId);
            w.WriteString("object"u8, _kind == CompletionKind.Chat ? "chat.completion.chunk"u8 : "text_completion"u8);
            w.WriteNumber("created"u8, _created);
            w.WriteString("model"u8, _model);
            w.WriteEndObject();
        }

        // Drop the closing brace and add a comma: the choices follow.
        return Encoding.UTF8.GetString(buffer.WrittenSpan[..^1]) + ",";
    }
}
