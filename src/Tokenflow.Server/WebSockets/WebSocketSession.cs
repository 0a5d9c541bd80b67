using System.Buffers;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Hosting;
using Tokenflow.Server.OpenAi;
using Tokenflow.Server.Streams;

namespace Tokenflow.Server.WebSockets;

/// <summary>
/// One WebSocket connection: reads client messages (<c>generate</c>, <c>subscribe</c>,
/// <c>cancel</c>), runs one pump per subscribed stream, and sends every frame through a single
/// bounded queue. When the queue is full the pumps wait — and since a pump reads the stream log,
/// waiting costs no memory: a slow socket never grows the server. Closing the socket disposes every
/// reader, which counts as every subscription going away (grace rules).
/// </summary>
internal sealed partial class WebSocketSession
{
    /// <summary>Frames waiting to be sent; pumps wait when it is full.</summary>
    private const int SendQueueCapacity = 64;

    /// <summary>Most streams one socket may follow at once.</summary>
    private const int MaxSubscriptions = 256;

    private readonly WebSocket _socket;
    private readonly StreamAccess _streams;
    private readonly GenerationRunner _runner;
    private readonly CompletionRequestValidator _validator;
    private readonly TokenflowOptions _options;
    private readonly ILogger<WebSocketSession> _logger;
    private readonly Operations.RateLimits? _rateLimits;
    private readonly Channel<Frame> _outgoing = Channel.CreateBounded<Frame>(new BoundedChannelOptions(SendQueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly ConcurrentDictionary<string, Task> _pumps = new(StringComparer.Ordinal);

    public WebSocketSession(WebSocket socket, StreamAccess streams, GenerationRunner runner, CompletionRequestValidator validator, IOptions<TokenflowOptions> options, ILogger<WebSocketSession> logger, Operations.RateLimits? rateLimits = null)
    {
        _rateLimits = rateLimits;
        _socket = socket;
        _streams = streams;
        _runner = runner;
        _validator = validator;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>The API-key owner of the connection (null when keys are off).</summary>
    public string? Owner { get; set; }

    /// <summary>The rate-limit partition of the connection: each <c>generate</c> counts as a request in it.</summary>
    public string? RateLimitPartition { get; set; }

    public async Task RunAsync(CancellationToken requestAborted)
    {
        using var closing = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
        var sender = SendLoopAsync(closing.Token);
        try
        {
            await ReceiveLoopAsync(closing.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            LogSocketClosed(_logger, ex.Message);
        }
        finally
        {
            // Stop every pump: disposing their readers detaches them from their streams.
            await closing.CancelAsync();
            await Task.WhenAll(_pumps.Values).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _outgoing.Writer.TryComplete();
            await sender.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (_socket.State is WebSocketState.CloseReceived or WebSocketState.Open)
        {
            try
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
            }
            catch (Exception ex) when (ex is WebSocketException or TimeoutException or IOException)
            {
                LogSocketClosed(_logger, ex.Message);
            }
        }
    }

    private async Task ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        var limit = (int)Math.Min(_options.MaxRequestBodyBytes, int.MaxValue);
        var message = new ArrayBufferWriter<byte>(4096);
        while (true)
        {
            message.ResetWrittenCount();
            var tooLarge = false;
            ValueWebSocketReceiveResult result;
            do
            {
                var memory = message.GetMemory(4096);
                result = await _socket.ReceiveAsync(memory, cancellationToken);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                if (message.WrittenCount + result.Count > limit)
                {
                    tooLarge = true;
                    message.ResetWrittenCount();
                }
                else
                {
                    message.Advance(result.Count);
                }
            }
            while (!result.EndOfMessage);

            if (tooLarge)
            {
                await SendErrorAsync(null, null, OpenAiError.TooLarge(limit), cancellationToken);
                continue;
            }

            if (result.MessageType != WebSocketMessageType.Text)
            {
                await SendErrorAsync(null, null, OpenAiError.Invalid("Send text frames holding one JSON object each.", null, "invalid_message"), cancellationToken);
                continue;
            }

            try
            {
                await HandleMessageAsync(message.WrittenMemory, cancellationToken);
            }
            catch (InvalidOperationException ex) when (ex.StackTrace?.Contains("System.Text.Json.", StringComparison.Ordinal) == true)
            {
                // JsonDocument accepts escaped lone surrogates ("\ud800") and throws only when a string is read.
                await SendErrorAsync(null, null, OpenAiError.Invalid("The message has a string that is not valid UTF-16.", null, "invalid_json"), cancellationToken);
            }
        }
    }

    private async Task HandleMessageAsync(ReadOnlyMemory<byte> utf8, CancellationToken cancellationToken)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8);
        }
        catch (JsonException ex)
        {
            await SendErrorAsync(null, null, OpenAiError.Invalid($"The message is not valid JSON (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1}).", null, "invalid_json"), cancellationToken);
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String)
            {
                await SendErrorAsync(null, null, OpenAiError.Invalid("A message must be an object with a string 'type': generate, subscribe or cancel.", "type", "invalid_message"), cancellationToken);
                return;
            }

            var tag = root.TryGetProperty("id", out var idElement) && idElement.ValueKind == JsonValueKind.String ? idElement.GetString() : null;
            var streamId = root.TryGetProperty("stream_id", out var streamElement) && streamElement.ValueKind == JsonValueKind.String ? streamElement.GetString() : null;
            switch (typeElement.GetString())
            {
                case "generate":
                    await GenerateAsync(tag, root, cancellationToken);
                    break;
                case "subscribe":
                    await SubscribeAsync(tag, streamId, root, cancellationToken);
                    break;
                case "cancel":
                    if (await _streams.FindAsync(streamId, Owner, cancellationToken) is null || !await _streams.Store.CancelAsync(streamId!, cancellationToken))
                    {
                        await SendErrorAsync(tag, streamId, OpenAiError.StreamNotFound(streamId ?? string.Empty), cancellationToken);
                    }

                    break;
                default:
                    await SendErrorAsync(tag, streamId, OpenAiError.Invalid($"Unknown message type '{typeElement.GetString()}': use generate, subscribe or cancel.", "type", "invalid_message"), cancellationToken);
                    break;
            }
        }
    }

    private async Task GenerateAsync(string? tag, JsonElement root, CancellationToken cancellationToken)
    {
        if (!root.TryGetProperty("request", out var body) || body.ValueKind != JsonValueKind.Object)
        {
            await SendErrorAsync(tag, null, OpenAiError.Invalid("'request' must be a chat completions request object.", "request", "invalid_message"), cancellationToken);
            return;
        }

        CompletionRequest? request;
        try
        {
            request = body.Deserialize(OpenAiJsonContext.Default.CompletionRequest);
        }
        catch (JsonException ex)
        {
            await SendErrorAsync(tag, null, OpenAiError.Invalid($"A field of 'request' has the wrong type{(ex.Path is { Length: > 2 } p ? $" at {p}" : string.Empty)}.", ex.Path?.TrimStart('$', '.'), "invalid_json"), cancellationToken);
            return;
        }

        // Over a socket every generation streams; usage rides on the last chunk when asked for.
        request!.Stream = true;
        var error = _validator.Validate(CompletionKind.Chat, request, Owner, out var completion);
        if (error is not null)
        {
            await SendErrorAsync(tag, null, error, cancellationToken);
            return;
        }

        if (_rateLimits is { Options.Enabled: true } && RateLimitPartition is { } partition
            && await _rateLimits.CheckAsync(partition, countRequest: true, mayGenerate: true) is { } refusal)
        {
            await SendErrorAsync(tag, null, Operations.RateLimitResponses.ToOpenAiError(refusal), cancellationToken);
            return;
        }

        if (_pumps.Count >= MaxSubscriptions)
        {
            await SendErrorAsync(tag, null, new OpenAiError(StatusCodes.Status429TooManyRequests, $"A socket may follow at most {MaxSubscriptions} streams at once.", "rate_limit_error", null, "too_many_subscriptions"), cancellationToken);
            return;
        }

        var start = await _runner.StartAsync(completion!.Model, completion.Backend, completion.Generation, cancellationToken);
        if (start.Status != StreamCreateStatus.Created)
        {
            await SendErrorAsync(tag, null, OpenAiError.StartRefused(start.Status), cancellationToken);
            return;
        }

        var (_, reader) = await _streams.Store.OpenReaderAsync(start.StreamId!, 0, cancellationToken);
        await SendControlAsync(w =>
        {
            w.WriteString("type"u8, "started"u8);
            w.WriteString("id"u8, tag);
            w.WriteString("stream_id"u8, start.StreamId);
        }, cancellationToken);
        StartPump(reader!, new ChunkFormatter(CompletionKind.Chat, start.StreamId!, completion.Model.Id, start.Created, completion.IncludeUsage, completion.PartialJson), cancellationToken);
    }

    private async Task SubscribeAsync(string? tag, string? streamId, JsonElement root, CancellationToken cancellationToken)
    {
        var after = 0L;
        if (root.TryGetProperty("after", out var afterElement) && (afterElement.ValueKind != JsonValueKind.Number || !afterElement.TryGetInt64(out after) || after < 0))
        {
            await SendErrorAsync(tag, streamId, OpenAiError.Invalid("'after' must be a non-negative event number.", "after", "invalid_value"), cancellationToken);
            return;
        }

        var (opened, reader, descriptor) = await _streams.OpenAsync(streamId, after, Owner, cancellationToken);
        if (after > 0 && opened == StreamOpenStatus.Opened)
        {
            Tokenflow.Core.Diagnostics.TokenflowTelemetry.StreamResumed("websocket");
        }

        if (opened == StreamOpenStatus.Truncated)
        {
            await SendErrorAsync(tag, streamId, OpenAiError.NotRetained(streamId!, after), cancellationToken);
            return;
        }

        if (reader is null || descriptor is null)
        {
            await SendErrorAsync(tag, streamId, OpenAiError.StreamNotFound(streamId ?? string.Empty), cancellationToken);
            return;
        }

        if (_pumps.Count >= MaxSubscriptions)
        {
            await reader.DisposeAsync();
            await SendErrorAsync(tag, streamId, new OpenAiError(StatusCodes.Status429TooManyRequests, $"A socket may follow at most {MaxSubscriptions} streams at once.", "rate_limit_error", null, "too_many_subscriptions"), cancellationToken);
            return;
        }

        var (kind, includeUsage, partialJson) = ReplayFormat.Decode(descriptor.Metadata);
        StartPump(reader, new ChunkFormatter(kind, streamId!, descriptor.Model, descriptor.Created, includeUsage, partialJson), cancellationToken);
    }

    private void StartPump(IStreamReader reader, ChunkFormatter formatter, CancellationToken cancellationToken)
    {
        var key = $"{reader.StreamId}#{Guid.NewGuid():N}";
        _pumps[key] = Task.Run(async () =>
        {
            try
            {
                await PumpAsync(reader, formatter, cancellationToken);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
            {
                // The socket is closing.
            }
            finally
            {
                formatter.Dispose();
                await reader.DisposeAsync();
                _pumps.TryRemove(key, out _);
            }
        }, CancellationToken.None);
    }

    private async Task PumpAsync(IStreamReader reader, ChunkFormatter formatter, CancellationToken cancellationToken)
    {
        var streamId = reader.StreamId;
        while (await reader.WaitToReadAsync(cancellationToken))
        {
            while (reader.TryRead(out var streamEvent))
            {
                if (streamEvent.Kind == StreamEventKind.Watch)
                {
                    // DESIGN.md "Watches": its own message type, not a chunk.
                    var seq = streamEvent.Seq;
                    var watch = streamEvent.Watch!;
                    await SendControlAsync(w =>
                    {
                        w.WriteString("type"u8, "watch"u8);
                        w.WriteString("stream_id"u8, streamId);
                        w.WriteNumber("seq"u8, seq);
                        WatchJson.Write(w, watch);
                    }, cancellationToken);
                }
                else if (formatter.HasChunk(in streamEvent))
                {
                    var frame = Frame.Rent();
                    WriteEventFrame(frame.Buffer, formatter, streamId, in streamEvent);
                    await _outgoing.Writer.WriteAsync(frame, cancellationToken);
                }

                if (streamEvent.Kind == StreamEventKind.Error)
                {
                    var error = streamEvent.Error!;
                    await SendErrorAsync(null, streamId, new OpenAiError(StatusCodes.Status500InternalServerError, error.Message, error.Type, null, error.Code), cancellationToken);
                }

                if (streamEvent.IsTerminal)
                {
                    var status = StreamStateNames.ToJson(StreamStateNames.EndStateOf(streamEvent.Kind, streamEvent.FinishReason));
                    await SendControlAsync(w =>
                    {
                        w.WriteString("type"u8, "done"u8);
                        w.WriteString("stream_id"u8, streamId);
                        w.WriteString("status"u8, status);
                    }, cancellationToken);
                    return;
                }
            }
        }
    }

    private static void WriteEventFrame(ArrayBufferWriter<byte> buffer, ChunkFormatter formatter, string streamId, in StreamEvent streamEvent)
    {
        buffer.Write("{\"type\":\"event\",\"stream_id\":\""u8);
        buffer.Write(System.Text.Encoding.UTF8.GetBytes(streamId));
        buffer.Write("\",\"seq\":"u8);
        System.Buffers.Text.Utf8Formatter.TryFormat(streamEvent.Seq, buffer.GetSpan(20), out var written);
        buffer.Advance(written);
        buffer.Write(",\"data\":"u8);
        formatter.WriteChunk(buffer, in streamEvent);
        buffer.Write("}"u8);
    }

    private Task SendErrorAsync(string? tag, string? streamId, OpenAiError error, CancellationToken cancellationToken)
        => SendControlAsync(w =>
        {
            w.WriteString("type"u8, "error"u8);
            w.WriteString("id"u8, tag);
            w.WriteString("stream_id"u8, streamId);
            w.WritePropertyName("error"u8);
            OpenAiError.WriteInner(w, error.Message, error.Type, error.Param, error.Code);
        }, cancellationToken);

    private async Task SendControlAsync(Action<Utf8JsonWriter> writeFields, CancellationToken cancellationToken)
    {
        var frame = Frame.Rent();
        using (var w = new Utf8JsonWriter(frame.Buffer, JsonWriting.Options))
        {
            w.WriteStartObject();
            writeFields(w);
            w.WriteEndObject();
        }

        await _outgoing.Writer.WriteAsync(frame, cancellationToken);
    }

    private async Task SendLoopAsync(CancellationToken cancellationToken)
    {
        await foreach (var frame in _outgoing.Reader.ReadAllAsync(CancellationToken.None))
        {
            try
            {
                if (!cancellationToken.IsCancellationRequested && _socket.State == WebSocketState.Open)
                {
                    await _socket.SendAsync(frame.Buffer.WrittenMemory, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
                }
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
            {
                LogSocketClosed(_logger, ex.Message);
            }
            finally
            {
                frame.Return();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "WebSocket closed: {Reason}")]
    private static partial void LogSocketClosed(ILogger logger, string reason);

    /// <summary>One outgoing text frame; buffers are reused across frames.</summary>
    private sealed class Frame
    {
        private static readonly ConcurrentBag<Frame> Pool = [];

        public ArrayBufferWriter<byte> Buffer { get; } = new(512);

        public static Frame Rent() => Pool.TryTake(out var frame) ? frame : new Frame();

        public void Return()
        {
            if (Buffer.Capacity <= 64 * 1024)
            {
                Buffer.ResetWrittenCount();
                Pool.Add(this);
            }
        }
    }
}
