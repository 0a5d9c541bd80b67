using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using Tokenflow.Core.Streams;

namespace Tokenflow.Core.Durable;

/// <summary>
/// A generation of an <see cref="IStreamStore"/> as a read-only Durable Stream (<c>application/json</c>): one message
/// per event — <c>{"seq":N,"type":"delta","text":…}</c> (other channels add <c>"channel":"reasoning"</c>,
/// <c>"refusal"</c> or <c>"tool_call"</c> with <c>"tool_call":{"index","id","name"}</c>, the last two on a call's first
/// fragment), <c>usage</c>, <c>error</c>, <c>done</c> with <c>finish_reason</c>, <c>watch</c> with
/// <c>"watch":{"watch_id","seq","match"}</c> — at positions equal to the seq (position N = after event N), closed once the terminal event
/// is read or the generation has ended at the position read. Reads go through one <see cref="IStreamReader"/>, opened by
/// the first read and held until disposed, so reading counts as a reader of the generation for the grace rules.
/// Single consumer.
/// </summary>
public sealed class GenerationReadSource : IDurableReadSource
{
    /// <summary>The content type of every generation's durable stream.</summary>
    public const string ContentType = "application/json";

    private const string NoSuchPosition = "No such stream position.";

    // Non-ASCII text stays UTF-8, as in the generation's other doors.
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly IStreamStore _store;
    private IStreamReader? _reader;
    private Utf8JsonWriter? _json;
    private long _next;
    private bool _ended;

    private GenerationReadSource(IStreamStore store, string streamId)
    {
        _store = store;
        StreamId = streamId;
    }

    /// <summary>The generation's stream id.</summary>
    public string StreamId { get; }

    /// <inheritdoc />
    public bool Cacheable => false;

    /// <summary>
    /// The generation named by <paramref name="path"/> (a bare stream id) when it exists and <paramref name="owner"/>
    /// may read it; null otherwise, when the path belongs to the client streams. Opens no reader yet.
    /// </summary>
    public static async ValueTask<GenerationReadSource?> TryOpenAsync(StreamAccess streams, string path, string? owner, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(streams);
        return !path.Contains('/', StringComparison.Ordinal) && await streams.FindAsync(path, owner, cancellationToken).ConfigureAwait(false) is not null
            ? new GenerationReadSource(streams.Store, path)
            : null;
    }

    /// <inheritdoc />
    public async ValueTask<DurableStreamResult> GetInfoAsync(CancellationToken cancellationToken)
    {
        var status = await _store.GetStatusAsync(StreamId, cancellationToken).ConfigureAwait(false);
        return status is null
            ? new DurableStreamResult(DurableOutcome.NotFound)
            : new DurableStreamResult(DurableOutcome.Ok) { Tail = status.LastSeq, Closed = status.State != StreamState.Running, ContentType = ContentType };
    }

    /// <inheritdoc />
    /// <remarks>A read from the tail (null) returns no messages; any other read returns every event available now.</remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<DurableReadBatch> ReadAsync(long? position, IBufferWriter<byte> body, CancellationToken cancellationToken)
    {
        var start = position ?? (await _store.GetStatusAsync(StreamId, cancellationToken).ConfigureAwait(false))?.LastSeq ?? 0;
        if (_reader is null || start != _next)
        {
            var outcome = await PositionAsync(start, cancellationToken).ConfigureAwait(false);
            if (outcome != DurableOutcome.Ok)
            {
                return new DurableReadBatch(outcome) { Message = NoSuchPosition };
            }
        }

        var count = Drain(body, position is null ? 0 : int.MaxValue);
        var closed = _ended;
        if (!closed && count == 0)
        {
            closed = await _store.GetStatusAsync(StreamId, cancellationToken).ConfigureAwait(false) is { } status
                && status.State != StreamState.Running && _next >= status.LastSeq;
        }

        return new DurableReadBatch(DurableOutcome.Ok)
        {
            StreamKey = StreamId,
            ContentType = ContentType,
            IsJson = true,
            Start = start,
            Next = _next,
            Count = count,
            UpToDate = true,
            Closed = closed,
        };
    }

    /// <inheritdoc />
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> WaitAsync(long position, CancellationToken cancellationToken)
    {
        if ((_reader is null || position != _next) && await PositionAsync(position, cancellationToken).ConfigureAwait(false) != DurableOutcome.Ok)
        {
            return true;
        }

        if (_ended)
        {
            return true;
        }

        try
        {
            // False: positioned at or past the terminal event, nothing more will come; the next read reports the closure.
            _ended = !await _reader!.WaitToReadAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _json?.Dispose();
        if (_reader is { } reader)
        {
            _reader = null;
            await reader.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Opens a reader after <paramref name="position"/>, before letting go of the old one so the generation never sees zero readers.</summary>
    private async ValueTask<DurableOutcome> PositionAsync(long position, CancellationToken cancellationToken)
    {
        var (open, reader) = await _store.OpenReaderAsync(StreamId, position, cancellationToken).ConfigureAwait(false);
        if (reader is null)
        {
            return open == StreamOpenStatus.Truncated ? DurableOutcome.Gone : DurableOutcome.NotFound;
        }

        var old = _reader;
        _reader = reader;
        _next = position;
        _ended = false;
        if (old is not null)
        {
            await old.DisposeAsync().ConfigureAwait(false);
        }

        return DurableOutcome.Ok;
    }

    /// <summary>Writes up to <paramref name="max"/> available events as one JSON array into <paramref name="body"/>; returns how many.</summary>
    private int Drain(IBufferWriter<byte> body, int max)
    {
        var json = _json ??= new Utf8JsonWriter(body, JsonOptions);
        json.Reset(body);
        json.WriteStartArray();
        var count = 0;
        while (count < max && _reader!.TryRead(out var item))
        {
            Write(json, item);
            _next = item.Seq;
            count++;
            if (item.IsTerminal)
            {
                _ended = true;
                break;
            }
        }

        json.WriteEndArray();
        json.Flush();
        return count;
    }

    private static void Write(Utf8JsonWriter json, in StreamEvent item)
    {
        json.WriteStartObject();
        json.WriteNumber("seq"u8, item.Seq);
        switch (item.Kind)
        {
            case StreamEventKind.Delta:
                json.WriteString("type"u8, "delta"u8);
                WriteChannel(json, in item);
                json.WriteString("text"u8, item.Text.Span);
                break;
            case StreamEventKind.Watch:
                json.WriteString("type"u8, "watch"u8);
                json.WriteStartObject("watch"u8);
                json.WriteString("watch_id"u8, item.Watch!.WatchId);
                json.WriteNumber("seq"u8, item.Watch.Seq);
                json.WritePropertyName("match"u8);
                json.WriteRawValue(item.Watch.MatchJson, skipInputValidation: true);
                json.WriteEndObject();
                break;
            case StreamEventKind.Usage:
                json.WriteString("type"u8, "usage"u8);
                WriteUsage(json, item.Usage);
                WriteFinish(json, item.FinishReason);
                break;
            case StreamEventKind.Error:
                json.WriteString("type"u8, "error"u8);
                json.WriteStartObject("error"u8);
                json.WriteString("message"u8, item.Error?.Message);
                json.WriteString("type"u8, item.Error?.Type);
                json.WriteString("code"u8, item.Error?.Code);
                json.WriteEndObject();
                break;
            default:
                json.WriteString("type"u8, "done"u8);
                WriteFinish(json, item.FinishReason);
                WriteUsage(json, item.Usage);
                break;
        }

        json.WriteEndObject();
    }

    private static void WriteChannel(Utf8JsonWriter json, in StreamEvent item)
    {
        switch (item.Channel)
        {
            case DeltaChannel.Reasoning:
                json.WriteString("channel"u8, "reasoning"u8);
                break;
            case DeltaChannel.Refusal:
                json.WriteString("channel"u8, "refusal"u8);
                break;
            case DeltaChannel.ToolCall:
                json.WriteString("channel"u8, "tool_call"u8);
                json.WriteStartObject("tool_call"u8);
                json.WriteNumber("index"u8, item.ToolCallIndex);
                if (item.ToolCallId is { } id)
                {
                    json.WriteString("id"u8, id);
                    json.WriteString("name"u8, item.ToolName);
                }

                json.WriteEndObject();
                break;
        }
    }

    private static void WriteUsage(Utf8JsonWriter json, Usage usage)
    {
        json.WriteStartObject("usage"u8);
        json.WriteNumber("prompt_tokens"u8, usage.PromptTokens);
        json.WriteNumber("completion_tokens"u8, usage.CompletionTokens);
        json.WriteNumber("total_tokens"u8, usage.TotalTokens);
        json.WriteEndObject();
    }

    private static void WriteFinish(Utf8JsonWriter json, FinishReason reason)
    {
        if (reason.ToWire() is { } wire)
        {
            json.WriteString("finish_reason"u8, wire);
        }
        else
        {
            json.WriteNull("finish_reason"u8);
        }
    }
}
