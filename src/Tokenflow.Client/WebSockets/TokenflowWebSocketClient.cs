using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;

namespace Tokenflow.Client;

/// <summary>
/// Client of Tokenflow's WebSocket door (<c>/v1/ws</c>): many streams multiplexed on one socket, each read
/// as the same typed <see cref="ChatStreamEvent"/>s as over SSE. If the socket drops, the next read opens a
/// new one and re-subscribes every open stream after its last seen seq (bounded retries with backoff), so
/// each caller still sees every event exactly once. Cancelling a read (or leaving it early) sends
/// <c>cancel</c> for its stream. Thread-safe.
/// </summary>
public sealed class TokenflowWebSocketClient : IAsyncDisposable
{
    private readonly Uri _socketUri;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private SocketConnection? _connection;
    private bool _disposed;

    /// <summary>Creates a client for the server at <paramref name="baseAddress"/> (<c>http://…</c> or <c>ws://…</c>; a trailing <c>/v1</c> is accepted). Connects on first use.</summary>
    public TokenflowWebSocketClient(Uri baseAddress, TokenflowClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(baseAddress);
        var root = new UriBuilder(TokenflowClient.NormalizeRoot(baseAddress));
        root.Scheme = root.Scheme is "https" or "wss" ? "wss" : "ws";
        root.Path = root.Path.TrimEnd('/') + "/v1/ws";
        _socketUri = root.Uri;
        Options = options ?? new TokenflowClientOptions();
    }

    /// <summary>The options this client was created with.</summary>
    public TokenflowClientOptions Options { get; }

    /// <summary>
    /// Starts a chat completion over the socket (<c>generate</c>) and yields its events. A dropped socket is
    /// replaced and the stream re-subscribed after the last seen seq; cancelling or leaving early sends <c>cancel</c>
    /// unless the request is a background one. Errors throw <see cref="TokenflowException"/>.
    /// </summary>
    public IAsyncEnumerable<ChatStreamEvent> StreamChatAsync(ChatRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return ReadAsync(request, null, 0, Options.CancelOnAbandon && request.Background != true, cancellationToken);
    }

    /// <summary>Follows an existing stream (<c>subscribe</c>) from the event after <paramref name="afterSeq"/> to its end; leaving early does not cancel it.</summary>
    public IAsyncEnumerable<ChatStreamEvent> ResumeStreamAsync(string streamId, long afterSeq = 0, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(streamId);
        return ReadAsync(null, streamId, afterSeq, cancelOnAbandon: false, cancellationToken);
    }

    /// <summary>Asks the server to stop a stream (<c>cancel</c>); readers of it receive a <c>cancelled</c> finish and its end.</summary>
    public async Task CancelStreamAsync(string streamId, CancellationToken cancellationToken = default)
    {
        var connection = await GetConnectionAsync(cancellationToken).ConfigureAwait(false);
        await connection.SendAsync(w =>
        {
            w.WriteString("type"u8, "cancel"u8);
            w.WriteString("stream_id"u8, streamId);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        if (_connection is { } connection)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }

        _connectLock.Dispose();
    }

    private async Task<SocketConnection> GetConnectionAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_connection is { IsAlive: true } current)
        {
            return current;
        }

        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_connection is { IsAlive: true } again)
            {
                return again;
            }

            if (_connection is { } dead)
            {
                await dead.DisposeAsync().ConfigureAwait(false);
            }

            _connection = await SocketConnection.ConnectAsync(_socketUri, Options, cancellationToken).ConfigureAwait(false);
            return _connection;
        }
        finally
        {
            _connectLock.Release();
        }
    }

    private async IAsyncEnumerable<ChatStreamEvent> ReadAsync(ChatRequest? request, string? streamId, long after, bool cancelOnAbandon, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var lastSeq = after;
        var ended = false;
        var failures = 0;
        var subscription = new Subscription();
        SocketConnection? connection = null;
        try
        {
            // Open: generate (not retried: a second one would start a second generation) or subscribe.
            connection = await GetConnectionAsync(cancellationToken).ConfigureAwait(false);
            if (request is not null)
            {
                var tag = Guid.NewGuid().ToString("N");
                connection.Register(tag, subscription);
                await connection.SendAsync(w =>
                {
                    w.WriteString("type"u8, "generate"u8);
                    w.WriteString("id"u8, tag);
                    w.WritePropertyName("request"u8);
                    ChatRequestJson.Write(w, request);
                }, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await SubscribeAsync(connection, streamId!, lastSeq, subscription, cancellationToken).ConfigureAwait(false);
            }

            while (true)
            {
                SocketMessage message;
                try
                {
                    message = await subscription.Messages.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (ChannelClosedException ex) when (!cancellationToken.IsCancellationRequested)
                {
                    // The socket dropped: resume on a new one after the last seen event.
                    if (streamId is null || Options.MaxResumeAttempts == 0)
                    {
                        throw new TokenflowException("The WebSocket closed before the stream started.", ex.InnerException) { StreamId = streamId };
                    }

                    connection.Unregister(subscription);
                    subscription = new Subscription();
                    (connection, failures) = await ResubscribeAsync(streamId, lastSeq, subscription, failures, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                switch (message.Kind)
                {
                    case SocketMessageKind.Started:
                        streamId = message.StreamId;
                        break;
                    case SocketMessageKind.Event when message.Seq > lastSeq:
                        lastSeq = message.Seq;
                        failures = 0;
                        var chunk = message.Chunk;
                        yield return new ChatStreamEvent
                        {
                            StreamId = streamId ?? message.StreamId,
                            Seq = message.Seq,
                            Text = chunk.Text,
                            FinishReason = chunk.FinishReason,
                            Usage = chunk.Usage,
                            Model = chunk.Model,
                            Created = chunk.Created is { } created ? DateTimeOffset.FromUnixTimeSeconds(created) : null,
                        };
                        break;
                    case SocketMessageKind.Done:
                        ended = true;
                        yield break;
                    case SocketMessageKind.Error:
                        ended = true;
                        var error = message.Error!;
                        throw new TokenflowException(error.Message) { ErrorType = error.ErrorType, Code = error.Code, Param = error.Param, StatusCode = error.StatusCode, StreamId = streamId ?? message.StreamId };
                }
            }
        }
        finally
        {
            connection?.Unregister(subscription);
            if (!ended && cancelOnAbandon && streamId is not null && connection is { IsAlive: true })
            {
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    await connection.SendAsync(w =>
                    {
                        w.WriteString("type"u8, "cancel"u8);
                        w.WriteString("stream_id"u8, streamId);
                    }, timeout.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
                {
                    // The socket is going away: the server's grace period cancels the stream instead.
                    ClientLog.CancelFailed(Options.Logger, streamId, ex.Message);
                }
            }
        }
    }

    /// <summary>Opens a socket and subscribes after <paramref name="lastSeq"/>; <paramref name="failures"/> counts attempts since the last event received.</summary>
    private async Task<(SocketConnection Connection, int Failures)> ResubscribeAsync(string streamId, long lastSeq, Subscription subscription, int failures, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (failures++ >= Options.MaxResumeAttempts)
            {
                throw new TokenflowException($"The WebSocket of stream '{streamId}' was lost and {Options.MaxResumeAttempts} reconnects in a row failed; events up to {lastSeq} were delivered.") { StreamId = streamId };
            }

            var delay = Math.Min(Options.ResumeBackoff.TotalMilliseconds * Math.Pow(2, failures - 1), Options.MaxResumeBackoff.TotalMilliseconds);
            await Task.Delay(TimeSpan.FromMilliseconds(delay * (0.8 + (0.4 * Random.Shared.NextDouble()))), cancellationToken).ConfigureAwait(false);
            try
            {
                var connection = await GetConnectionAsync(cancellationToken).ConfigureAwait(false);
                await SubscribeAsync(connection, streamId, lastSeq, subscription, cancellationToken).ConfigureAwait(false);
                ClientLog.Resumed(Options.Logger, streamId, lastSeq);
                return (connection, failures);
            }
            catch (Exception ex) when (ex is WebSocketException or IOException or HttpRequestException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                ClientLog.ReconnectFailed(Options.Logger, streamId, ex.Message);
            }
        }
    }

    private static async Task SubscribeAsync(SocketConnection connection, string streamId, long after, Subscription subscription, CancellationToken cancellationToken)
    {
        connection.Register(streamId, subscription);
        await connection.SendAsync(w =>
        {
            w.WriteString("type"u8, "subscribe"u8);
            w.WriteString("stream_id"u8, streamId);
            w.WriteNumber("after"u8, after);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One reader's inbox. Bounded: when a reader falls 1024 frames behind, the socket's receive loop waits for it (TCP then slows the server's sends to this socket; the server never buffers for it).</summary>
    internal sealed class Subscription
    {
        public Channel<SocketMessage> Messages { get; } = Channel.CreateBounded<SocketMessage>(new BoundedChannelOptions(1024) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
    }

    /// <summary>One open socket: a receive loop routing frames to subscriptions by client tag or stream id, and serialized sends.</summary>
    internal sealed class SocketConnection : IAsyncDisposable
    {
        private readonly ClientWebSocket _socket;
        private readonly SemaphoreSlim _sendLock = new(1, 1);
        private readonly ConcurrentDictionary<string, Subscription> _routes = new(StringComparer.Ordinal);
        private readonly CancellationTokenSource _closing = new();
        private Task _receiving = Task.CompletedTask;
        private volatile bool _alive = true;

        private SocketConnection(ClientWebSocket socket) => _socket = socket;

        public bool IsAlive => _alive && _socket.State == WebSocketState.Open;

        public static async Task<SocketConnection> ConnectAsync(Uri uri, TokenflowClientOptions options, CancellationToken cancellationToken)
        {
            var socket = new ClientWebSocket();
            socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(15);
            if (options.ApiKey is { Length: > 0 } key)
            {
                socket.Options.SetRequestHeader("Authorization", $"Bearer {key}");
            }

            try
            {
                await socket.ConnectAsync(uri, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                socket.Dispose();
                throw;
            }

            var connection = new SocketConnection(socket);
            connection._receiving = connection.ReceiveLoopAsync();
            return connection;
        }

        public void Register(string key, Subscription subscription) => _routes[key] = subscription;

        public void Unregister(Subscription subscription)
        {
            foreach (var (key, value) in _routes)
            {
                if (ReferenceEquals(value, subscription))
                {
                    _routes.TryRemove(key, out _);
                }
            }
        }

        public async Task SendAsync(Action<Utf8JsonWriter> writeFields, CancellationToken cancellationToken)
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                writeFields(w);
                w.WriteEndObject();
            }

            await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await _socket.SendAsync(buffer.WrittenMemory, WebSocketMessageType.Text, endOfMessage: true, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _sendLock.Release();
            }
        }

        public async ValueTask DisposeAsync()
        {
            _alive = false;
            await _closing.CancelAsync().ConfigureAwait(false);
            try
            {
                if (_socket.State == WebSocketState.Open)
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                    await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
            {
                // Closing a socket that is already broken.
            }

            _socket.Abort();
            await _receiving.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _socket.Dispose();
            _closing.Dispose();
            _sendLock.Dispose();
        }

        private async Task ReceiveLoopAsync()
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>(16 * 1024);
            Exception? failure = null;
            try
            {
                while (true)
                {
                    buffer.ResetWrittenCount();
                    ValueWebSocketReceiveResult result;
                    do
                    {
                        result = await _socket.ReceiveAsync(buffer.GetMemory(8192), _closing.Token).ConfigureAwait(false);
                        if (result.MessageType == WebSocketMessageType.Close)
                        {
                            return;
                        }

                        buffer.Advance(result.Count);
                    }
                    while (!result.EndOfMessage);

                    var message = SocketMessage.Parse(buffer.WrittenSpan);
                    if (message.Key is { } key && _routes.TryGetValue(key, out var subscription))
                    {
                        if (message.Kind == SocketMessageKind.Started && message.StreamId is { } streamId)
                        {
                            // Route the stream's events before the next frame is read.
                            _routes[streamId] = subscription;
                            _routes.TryRemove(key, out _);
                        }

                        // Wait when the reader is behind; a reader that left was unregistered and gets nothing.
                        await subscription.Messages.Writer.WriteAsync(message, _closing.Token).ConfigureAwait(false);
                    }
                }
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or JsonException)
            {
                failure = ex;
            }
            finally
            {
                _alive = false;
                foreach (var subscription in _routes.Values)
                {
                    // Readers see ChannelClosedException and resume on a new socket.
                    subscription.Messages.Writer.TryComplete(failure is null or OperationCanceledException ? new WebSocketException("The WebSocket closed.", failure) : failure);
                }
            }
        }
    }
}
