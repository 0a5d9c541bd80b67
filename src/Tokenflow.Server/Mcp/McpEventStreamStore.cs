using System.Buffers;
using System.Collections.Concurrent;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Options;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Hosting;

// The SDK marks its stateful-HTTP resumability types obsolete (MCP9006) because the 2026-07-28 revision drops
// sessions; clients on 2025-11-25 and older — every TypeScript SDK 1.x client — still need them to resume a call.
#pragma warning disable MCP9006

namespace Tokenflow.Server.Mcp;

/// <summary>
/// The SDK's SSE event store (resumability, SEP-1699) kept in Tokenflow's own stream store, so it
/// works unchanged on memory and Redis, and a reconnect may reach another process. Each SSE stream
/// of a session (a POST's response, or the GET stream) is one Tokenflow stream; each SSE event is one
/// delta holding the event's type, <c>retry</c> and JSON-RPC message; the event id is
/// <c>{log id}/{seq}</c>, so a <c>Last-Event-ID</c> is a reader position. The priming event carries
/// <c>retry:</c> (<see cref="TokenflowMcpOptions.RetryInterval"/>). A log is a stream its writer completes when the SDK disposes it; its resume grace never ends it (nothing
/// generates into it), it only signals <see cref="ClientGone"/>.
/// </summary>
/// <remarks>
/// While a POST's response is open, a presence reader holds the log; when the response goes away
/// the store's resume grace starts, and a resumed GET (here or on another process) stops it.
/// <see cref="ClientGone"/> exposes that, so a tool can treat "gone for longer than the grace" —
/// not a dropped connection — as the end of its caller.
/// </remarks>
internal sealed partial class McpEventStreamStore : ISseEventStreamStore
{
    /// <summary>The model name recorded on event logs (they hold protocol messages, not model output).</summary>
    public const string LogModel = "mcp-sse";

    private const string IdPrefix = "mcpsse-";

    private static readonly JsonTypeInfo<JsonRpcMessage> MessageType = (JsonTypeInfo<JsonRpcMessage>)McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcMessage));

    private readonly IStreamStore _store;
    private readonly IHttpContextAccessor _http;
    private readonly TimeProvider _time;
    private readonly IOptions<TokenflowMcpOptions> _options;
    private readonly ILogger<McpEventStreamStore> _logger;
    private readonly ConcurrentDictionary<(string Session, string Stream), Writer> _open = new();

    public McpEventStreamStore(IStreamStore store, IHttpContextAccessor http, TimeProvider time, IOptions<TokenflowMcpOptions> options, ILogger<McpEventStreamStore> logger)
    {
        _store = store;
        _http = http;
        _time = time;
        _options = options;
        _logger = logger;
    }

    /// <inheritdoc />
    public async ValueTask<ISseEventStreamWriter> CreateStreamAsync(SseEventStreamOptions options, CancellationToken cancellationToken = default)
    {
        var context = _http.HttpContext;
        var descriptor = new StreamDescriptor
        {
            Id = StreamIds.New(IdPrefix),
            Model = LogModel,
            Created = _time.GetUtcNow().ToUnixTimeSeconds(),
            // Not background: once the client is gone for longer than the store's resume grace, Stopping fires (ClientGone).
            Background = false,
            Metadata = JsonSerializer.Serialize(new LogMetadata(options.SessionId, options.StreamId, (int)options.Mode), McpJsonContext.Default.LogMetadata),
            Owner = context is null ? null : ApiKeys.OwnerOf(context),
        };

        var (status, log) = await _store.CreateAsync(descriptor, cancellationToken).ConfigureAwait(false);
        if (log is null)
        {
            // The store is full: the SDK gets a writer that numbers nothing, so the stream works but cannot be resumed.
            LogNotStored(options.SessionId, options.StreamId, status);
            return new Writer(this, options, null, null);
        }

        // Held while the POST's response is open: the resume grace of the log starts only once it has gone.
        var (_, presence) = await _store.OpenReaderAsync(descriptor.Id, 0, cancellationToken).ConfigureAwait(false);
        var writer = new Writer(this, options, log, presence);
        _open[(options.SessionId, options.StreamId)] = writer;
        if (context is not null && presence is not null)
        {
            writer.ReleasePresenceWhen(context.RequestAborted);
        }

        return writer;
    }

    /// <inheritdoc />
    public async ValueTask<ISseEventStreamReader?> GetStreamReaderAsync(string lastEventId, CancellationToken cancellationToken = default)
    {
        if (!TryParseEventId(lastEventId, out var logId, out var seq))
        {
            return null;
        }

        var descriptor = await _store.GetDescriptorAsync(logId, cancellationToken).ConfigureAwait(false);
        if (descriptor is null || descriptor.Model != LogModel || descriptor.Metadata is null
            || (_http.HttpContext is { } context && descriptor.Owner != ApiKeys.OwnerOf(context)))
        {
            // Another key's log is indistinguishable from an unknown one.
            return null;
        }

        var metadata = JsonSerializer.Deserialize(descriptor.Metadata, McpJsonContext.Default.LogMetadata);
        var (_, reader) = await _store.OpenReaderAsync(logId, seq, cancellationToken).ConfigureAwait(false);
        if (metadata is null || reader is null)
        {
            return null;
        }

        Tokenflow.Core.Diagnostics.TokenflowTelemetry.StreamResumed("mcp");
        return new Reader(metadata, reader);
    }

    /// <summary>
    /// Signalled when the client of the POST that carries request <paramref name="requestId"/> of
    /// session <paramref name="sessionId"/> has been gone longer than the resume grace (its response
    /// closed and no resumed GET came back). Null when this process has no such stream.
    /// </summary>
    public CancellationToken? ClientGone(string? sessionId, string? requestId)
        => sessionId is not null && requestId is not null && _open.TryGetValue((sessionId, requestId), out var writer) && writer.Log is { } log
            ? log.Stopping
            : null;

    private static string EventId(string logId, long seq) => string.Create(null, stackalloc char[64], $"{logId}/{seq}");

    private static bool TryParseEventId(string eventId, out string logId, out long seq)
    {
        logId = string.Empty;
        seq = 0;
        var slash = eventId.LastIndexOf('/');
        if (slash <= 0 || !eventId.AsSpan(0, slash).StartsWith(IdPrefix) || !StreamIds.IsWellFormed(eventId.AsSpan(0, slash))
            || !long.TryParse(eventId.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out seq))
        {
            return false;
        }

        logId = eventId[..slash];
        return true;
    }

    private static byte[] Encode(in SseItem<JsonRpcMessage?> item, SseEventStreamMode? mode)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (item.EventType != SseParser.EventTypeDefault)
            {
                json.WriteString("t"u8, item.EventType);
            }

            if (item.ReconnectionInterval is { } retry)
            {
                json.WriteNumber("r"u8, (long)retry.TotalMilliseconds);
            }

            if (mode is { } m)
            {
                json.WriteNumber("m"u8, (int)m);
            }

            if (item.Data is { } message)
            {
                json.WritePropertyName("d"u8);
                JsonSerializer.Serialize(json, message, MessageType);
            }

            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static (SseItem<JsonRpcMessage?>? Item, SseEventStreamMode? Mode) Decode(string logId, in StreamEvent e)
    {
        var reader = new Utf8JsonReader(e.Text.Span);
        string eventType = SseParser.EventTypeDefault;
        TimeSpan? retry = null;
        SseEventStreamMode? mode = null;
        JsonRpcMessage? message = null;
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.ValueSpan;
            reader.Read();
            if (name.SequenceEqual("t"u8))
            {
                eventType = reader.GetString() ?? eventType;
            }
            else if (name.SequenceEqual("r"u8))
            {
                retry = TimeSpan.FromMilliseconds(reader.GetInt64());
            }
            else if (name.SequenceEqual("m"u8))
            {
                mode = (SseEventStreamMode)reader.GetInt32();
            }
            else if (name.SequenceEqual("d"u8))
            {
                message = JsonSerializer.Deserialize(ref reader, MessageType);
            }
            else
            {
                reader.Skip();
            }
        }

        if (mode is not null && message is null)
        {
            // A mode change: not an SSE event.
            return (null, mode);
        }

        return (new SseItem<JsonRpcMessage?>(message, eventType) { EventId = EventId(logId, e.Seq), ReconnectionInterval = retry }, null);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "MCP session {SessionId} stream {StreamId}: not stored ({Status}); it cannot be resumed.")]
    private partial void LogNotStored(string sessionId, string streamId, StreamCreateStatus status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MCP session {SessionId} stream {StreamId}: an event was refused by the store (full); the rest of the stream cannot be resumed.")]
    private partial void LogEventRefused(string sessionId, string streamId);

    /// <summary>What an event log was created for.</summary>
    internal sealed record LogMetadata(
        [property: JsonPropertyName("session")] string Session,
        [property: JsonPropertyName("stream")] string Stream,
        [property: JsonPropertyName("mode")] int Mode);

    private sealed class Writer : ISseEventStreamWriter
    {
        private readonly McpEventStreamStore _owner;
        private readonly SseEventStreamOptions _options;
        private readonly SemaphoreSlim _gate = new(1, 1);
        private IStreamReader? _presence;
        private CancellationTokenRegistration _aborted;
        private bool _refused;
        private bool _disposed;

        public Writer(McpEventStreamStore owner, SseEventStreamOptions options, IStreamWriter? log, IStreamReader? presence)
        {
            _owner = owner;
            _options = options;
            Log = log;
            _presence = presence;
        }

        public IStreamWriter? Log { get; }

        public void ReleasePresenceWhen(CancellationToken requestAborted)
            => _aborted = requestAborted.UnsafeRegister(static state => _ = ((Writer)state!).ReleasePresenceAsync(), this);

        public async ValueTask SetModeAsync(SseEventStreamMode mode, CancellationToken cancellationToken = default)
        {
            await AppendAsync(Encode(default, mode), cancellationToken).ConfigureAwait(false);
        }

        public async ValueTask<SseItem<JsonRpcMessage?>> WriteEventAsync(SseItem<JsonRpcMessage?> sseItem, CancellationToken cancellationToken = default)
        {
            if (sseItem.EventId is not null || Log is null)
            {
                return sseItem;
            }

            if (sseItem.Data is null && sseItem.EventType == "prime" && sseItem.ReconnectionInterval is null)
            {
                // SEP-1699: the priming event tells the client how soon to reconnect.
                sseItem = sseItem with { ReconnectionInterval = _owner._options.Value.RetryInterval };
            }

            var seq = await AppendAsync(Encode(sseItem, null), cancellationToken).ConfigureAwait(false);
            return seq is { } s ? sseItem with { EventId = EventId(Log.StreamId, s) } : sseItem;
        }

        private async ValueTask<long?> AppendAsync(byte[] payload, CancellationToken cancellationToken)
        {
            if (Log is null)
            {
                return null;
            }

            // The SDK serialises calls per stream, but the writer of a Tokenflow stream is single-task by contract: make sure.
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (_disposed || _refused)
                {
                    return null;
                }

                if (!Log.TryAppendDelta(payload))
                {
                    _refused = true;
                    _owner.LogEventRefused(_options.SessionId, _options.StreamId);
                    return null;
                }

                var seq = Log.LastSeq;
                await Log.FlushAsync(cancellationToken).ConfigureAwait(false);
                return seq;
            }
            finally
            {
                _gate.Release();
            }
        }

        private async Task ReleasePresenceAsync()
        {
            var presence = Interlocked.Exchange(ref _presence, null);
            if (presence is not null)
            {
                await presence.DisposeAsync().ConfigureAwait(false);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            try
            {
                if (_disposed)
                {
                    return;
                }

                _disposed = true;
                _owner._open.TryRemove(new KeyValuePair<(string, string), Writer>((_options.SessionId, _options.StreamId), this));
                if (Log is not null)
                {
                    Log.Complete(FinishReason.Stop, default, default);
                    await Log.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                    await Log.DisposeAsync().ConfigureAwait(false);
                }
            }
            finally
            {
                _gate.Release();
            }

            await _aborted.DisposeAsync().ConfigureAwait(false);
            await ReleasePresenceAsync().ConfigureAwait(false);
        }
    }

    private sealed class Reader : ISseEventStreamReader
    {
        private readonly IStreamReader _reader;
        private SseEventStreamMode _mode;

        public Reader(LogMetadata metadata, IStreamReader reader)
        {
            SessionId = metadata.Session;
            StreamId = metadata.Stream;
            _mode = (SseEventStreamMode)metadata.Mode;
            _reader = reader;
        }

        public string SessionId { get; }

        public string StreamId { get; }

        public async IAsyncEnumerable<SseItem<JsonRpcMessage?>> ReadEventsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await using (_reader.ConfigureAwait(false))
            {
                while (await _reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    while (_reader.TryRead(out var e))
                    {
                        if (e.Kind != StreamEventKind.Delta)
                        {
                            if (e.IsTerminal)
                            {
                                yield break;
                            }

                            continue;
                        }

                        var (item, mode) = Decode(_reader.StreamId, in e);
                        if (mode is { } m)
                        {
                            _mode = m;
                        }
                        else if (item is { } i)
                        {
                            yield return i;
                        }
                    }

                    if (_mode == SseEventStreamMode.Polling)
                    {
                        // Polling: hand over what is there now; the client comes back after its retry interval.
                        yield break;
                    }
                }
            }
        }
    }
}
