using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Tokenflow.Core.Streams;

namespace Tokenflow.Server.OpenAi;

/// <summary>
/// Formats a stream's events as OpenAI chunk SSE events straight into a <see cref="PipeWriter"/>:
/// <c>id: &lt;seq&gt;\ndata: &lt;chunk JSON&gt;\n\n</c>. The parts of a delta chunk that never change
/// for a stream (id, object, created, model) are encoded once; per event only the seq and the
/// escaped text are written, so a delta allocates nothing. One instance per response; not thread-safe.
/// </summary>
internal sealed class ChunkSseWriter : IDisposable
{
    private static readonly byte[] IdField = "id: "u8.ToArray();
    private static readonly byte[] DataField = "\ndata: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] ErrorField = "\nevent: error\ndata: "u8.ToArray();
    private static readonly byte[] DoneEvent = "data: [DONE]\n\n"u8.ToArray();
    private static readonly byte[] PingEvent = ": ping\n\n"u8.ToArray();

    private readonly PipeWriter _output;
    private readonly CompletionKind _kind;
    private readonly string _streamId;
    private readonly string _model;
    private readonly long _created;
    private readonly bool _includeUsage;
    private readonly byte[] _deltaPrefix;
    private readonly byte[] _firstDeltaPrefix;
    private readonly byte[] _deltaSuffix;
    private readonly Utf8JsonWriter _json;

    public ChunkSseWriter(PipeWriter output, CompletionKind kind, string streamId, string model, long created, bool includeUsage)
    {
        _output = output;
        _kind = kind;
        _streamId = streamId;
        _model = model;
        _created = created;
        _includeUsage = includeUsage;
        _json = new Utf8JsonWriter(output, JsonWriting.Fragment);

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

    /// <summary>True once the terminal event was written: the response is complete.</summary>
    public bool Ended { get; private set; }

    /// <summary>Writes one event (not flushed). Usage events become the finish chunk; done adds the usage chunk when asked for, then <c>[DONE]</c>.</summary>
    public void Write(in StreamEvent streamEvent)
    {
        switch (streamEvent.Kind)
        {
            case StreamEventKind.Delta:
                WriteDelta(streamEvent.Seq, streamEvent.Text.Span);
                break;
            case StreamEventKind.Usage:
                WriteChunk(streamEvent.Seq, in streamEvent, finish: true);
                break;
            case StreamEventKind.Done:
                if (_includeUsage)
                {
                    WriteChunk(streamEvent.Seq, in streamEvent, finish: false);
                }

                _output.Write(DoneEvent);
                Ended = true;
                break;
            case StreamEventKind.Error:
                WriteError(streamEvent.Seq, streamEvent.Error!);
                Ended = true;
                break;
        }
    }

    /// <summary>Writes a heartbeat comment.</summary>
    public void WritePing() => _output.Write(PingEvent);

    /// <summary>Writes a terminal error event for a failure outside the stream (e.g. a reader that fell behind).</summary>
    public void WriteError(long seq, StreamError error)
    {
        WriteId(seq, ErrorField);
        _json.Reset();
        OpenAiError.WriteInnerWrapped(_json, error.Message, error.Type, null, error.Code);
        _json.Flush();
        _output.Write(EventEnd);
        Ended = true;
    }

    public void Dispose() => _json.Dispose();

    /// <summary>Writes a delta event directly (benchmarks measure formatting alone with it).</summary>
    internal void WriteDeltaForBenchmark(long seq, ReadOnlySpan<byte> text) => WriteDelta(seq, text);

    private void WriteDelta(long seq, ReadOnlySpan<byte> text)
    {
        WriteId(seq, DataField);
        _output.Write(seq == 1 ? _firstDeltaPrefix : _deltaPrefix);
        _json.Reset();
        _json.WriteStringValue(text);
        _json.Flush();
        _output.Write(_deltaSuffix);
        _output.Write(EventEnd);
    }

    private void WriteId(long seq, byte[] after)
    {
        var span = _output.GetSpan(IdField.Length + 20 + after.Length);
        IdField.CopyTo(span);
        Utf8Formatter.TryFormat(seq, span[IdField.Length..], out var written);
        var length = IdField.Length + written;
        after.CopyTo(span[length..]);
        _output.Advance(length + after.Length);
    }

    /// <summary>The finish chunk (finish_reason) or the usage chunk (empty choices), built with the JSON writer: once per stream.</summary>
    private void WriteChunk(long seq, in StreamEvent streamEvent, bool finish)
    {
        WriteId(seq, DataField);
        _json.Reset();
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
        _output.Write(EventEnd);
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
