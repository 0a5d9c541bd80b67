using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using Tokenflow.Core.Streams;

namespace Tokenflow.Server.OpenAi;

/// <summary>
/// Frames a stream's chunks as Server-Sent Events straight into the response
/// <see cref="PipeWriter"/>: <c>id: &lt;seq&gt;\ndata: &lt;chunk JSON&gt;\n\n</c>, then
/// <c>data: [DONE]</c>; an error event is <c>event: error</c> and ends the stream. Allocation-free
/// per event. One instance per response; not thread-safe.
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
    private readonly ChunkFormatter _chunks;

    public ChunkSseWriter(PipeWriter output, CompletionKind kind, string streamId, string model, long created, bool includeUsage, bool partialJson = false)
    {
        _output = output;
        _chunks = new ChunkFormatter(kind, streamId, model, created, includeUsage, partialJson);
    }

    /// <summary>True once the terminal event was written: the response is complete.</summary>
    public bool Ended { get; private set; }

    /// <summary>Writes one event (not flushed).</summary>
    public void Write(in StreamEvent streamEvent)
    {
        if (streamEvent.Kind == StreamEventKind.Error)
        {
            WriteError(streamEvent.Seq, streamEvent.Error!);
            return;
        }

        if (_chunks.HasChunk(in streamEvent))
        {
            WriteId(streamEvent.Seq, DataField);
            _chunks.WriteChunk(_output, in streamEvent);
            _output.Write(EventEnd);
        }

        if (streamEvent.Kind == StreamEventKind.Done)
        {
            _output.Write(DoneEvent);
            Ended = true;
        }
    }

    /// <summary>Writes a heartbeat comment.</summary>
    public void WritePing() => _output.Write(PingEvent);

    /// <summary>Writes a terminal error event.</summary>
    public void WriteError(long seq, StreamError error)
    {
        WriteId(seq, ErrorField);
        _chunks.WriteError(_output, error);
        _output.Write(EventEnd);
        Ended = true;
    }

    public void Dispose() => _chunks.Dispose();

    /// <summary>Writes a delta event directly (benchmarks measure formatting alone with it).</summary>
    internal void WriteDeltaForBenchmark(long seq, ReadOnlySpan<byte> text)
    {
        WriteId(seq, DataField);
        _chunks.WriteDelta(_output, seq, text);
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
}
