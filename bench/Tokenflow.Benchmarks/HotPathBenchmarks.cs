using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Anthropic;
using Tokenflow.Server.OpenAi;
using Tokenflow.Server.Responses;

namespace Tokenflow.Benchmarks;

/// <summary>
/// The hot path, token piece to SSE bytes, without sockets: per event, the piece is decoded
/// (UTF-8 reassembly), appended to the stream log, read back by a reader and formatted as an
/// OpenAI chunk into a pipe. Reported per event (OperationsPerInvoke).
/// </summary>
[MemoryDiagnoser]
public class HotPathBenchmarks
{
    private const int Events = 4096;
    private static readonly byte[][] Pieces = ["  the"u8.ToArray(), " caf"u8.ToArray(), [0xC3], [0xA9], " 日本"u8.ToArray(), " stream"u8.ToArray()];

    private Pipe _pipe = null!;
    private ChunkSseWriter _sse = null!;
    private MemoryStreamStore _store = null!;
    private MessagesSseWriter _messages = null!;
    private ResponseState _response = null!;
    private ResponseEventSink _responseSink = null!;
    private StreamEvent[] _deltas = null!;

    [GlobalSetup]
    public void Setup()
    {
        _pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false));
        _sse = new ChunkSseWriter(_pipe.Writer, CompletionKind.Chat, "chatcmpl-0123456789abcdefghijkl", "sim", 1_700_000_000, includeUsage: false);
        _messages = new MessagesSseWriter(_pipe.Writer, "msg_0123456789abcdefghijkl", "sim", silentThrough: 0);
        _response = new ResponseState("resp_0123456789abcdefghijkl", "sim", 1_700_000_000);
        _responseSink = new ResponseEventSink(_pipe.Writer, startingAfter: -1);
        _deltas = [.. Enumerable.Range(0, Events).Select(i => StreamEvent.Delta(i + 1, " stream"u8.ToArray()))];
        _store = new MemoryStreamStore(Options.Create(new StreamStoreOptions { MaxBytes = 1L << 40, MaxEventsPerStream = int.MaxValue, CompletedTtl = TimeSpan.Zero }), TimeProvider.System);
    }

    /// <summary>Formatting alone: one delta event into the pipe.</summary>
    [Benchmark(OperationsPerInvoke = Events)]
    public void FormatDelta()
    {
        for (var i = 0; i < Events; i++)
        {
            _sse.WriteDeltaForBenchmark(i + 2, " stream"u8);
            if ((i & 15) == 0)
            {
                Drain();
            }
        }

        Drain();
    }

    /// <summary>Formatting alone on the Anthropic Messages door: one <c>content_block_delta</c> event into the pipe.</summary>
    [Benchmark(OperationsPerInvoke = Events)]
    public void FormatMessagesDelta()
    {
        for (var i = 0; i < Events; i++)
        {
            _messages.Write(in _deltas[i]);
            if ((i & 15) == 0)
            {
                Drain();
            }
        }

        Drain();
    }

    /// <summary>
    /// Formatting alone on the Responses door: one <c>response.output_text.delta</c> event (numbered) into the pipe,
    /// per response of <see cref="Events"/> deltas (the state keeps the item's text for its <c>.done</c> events).
    /// </summary>
    [Benchmark(OperationsPerInvoke = Events)]
    public void FormatResponsesDelta()
    {
        _response.Dispose();
        _response = new ResponseState("resp_0123456789abcdefghijkl", "sim", 1_700_000_000);
        for (var i = 0; i < Events; i++)
        {
            _response.Add(in _deltas[i], _responseSink);
            if ((i & 15) == 0)
            {
                Drain();
            }
        }

        Drain();
    }

    /// <summary>The whole path: decode, append to the log, read, format.</summary>
    [Benchmark(OperationsPerInvoke = Events)]
    public async Task PieceToSseBytes()
    {
        var (_, writer) = await _store.CreateAsync(new StreamDescriptor { Id = StreamIds.New("bench-"), Model = "sim" }, default);
        var (_, reader) = await _store.OpenReaderAsync(writer!.StreamId, 0, default);
        var decoder = new Utf8PieceDecoder();
        for (var i = 0; i < Events; i++)
        {
            writer.TryAppendDelta(decoder.Decode(Pieces[i % Pieces.Length]));
            while (reader!.TryRead(out var streamEvent))
            {
                _sse.Write(in streamEvent);
            }

            if ((i & 15) == 0)
            {
                Drain();
            }
        }

        writer.Complete(FinishReason.Length, new Usage(1, Events), default);
        await writer.DisposeAsync();
        await reader!.DisposeAsync();
        Drain();

        // Steady state: finished streams are evicted (TTL 0 here), returning their buffers to the pool.
        _ = await _store.GetStatusAsync(writer.StreamId, default);
    }

    private void Drain()
    {
        var flush = _pipe.Writer.FlushAsync();
        if (!flush.IsCompleted)
        {
            flush.AsTask().GetAwaiter().GetResult();
        }

        if (_pipe.Reader.TryRead(out var result))
        {
            _pipe.Reader.AdvanceTo(result.Buffer.End);
        }
    }
}
