using System.Buffers;
using System.Text;
using System.Text.Json;
using Tokenflow.Core.Streams;

namespace Tokenflow.Server.OpenAi;

/// <summary>
/// Writes a stream event as the OpenAI chunk JSON clients expect (<c>chat.completion.chunk</c> or
/// <c>text_completion</c>) into any <see cref="IBufferWriter{T}"/>; SSE and WebSocket framing wrap
/// it. The parts of a delta chunk that never change for a stream (id, object, created, model) are
/// encoded once, so a delta costs one seq, one escaped string and no allocation. Usage events
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

    public ChunkFormatter(CompletionKind kind, string streamId, string model, long created, bool includeUsage)
    {
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
        StreamEventKind.Delta or StreamEventKind.Usage => true,
        StreamEventKind.Done => IncludeUsage,
        _ => false,
    };

    /// <summary>Writes the chunk JSON of <paramref name="streamEvent"/>; call only when <see cref="HasChunk"/>.</summary>
    public void WriteChunk(IBufferWriter<byte> output, in StreamEvent streamEvent)
    {
        if (streamEvent.Kind == StreamEventKind.Delta)
        {
            WriteDelta(output, streamEvent.Seq, streamEvent.Text.Span);
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

    /// <summary>The finish chunk or the usage chunk, built with the JSON writer: once per stream.</summary>
    private void WriteEnd(IBufferWriter<byte> output, in StreamEvent streamEvent, bool finish)
    {
        _json.Reset(output);
        var w = _json;
        w.WriteStartObject();
        w.WriteString("id"u8, _streamId);
        w.WriteString("object"u8, _kind == CompletionKind.Chat ? "chat.completion.chunk"u8 : "text_completion"u8);
        w.WriteNumber("created"u8, _created);
        w.WriteString("model"u8, _model);
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
