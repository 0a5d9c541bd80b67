using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Tokenflow.Core.Streams;

namespace Tokenflow.Redis;

/// <summary>
/// A reader of a stream written by another process (or one that ended here): it reads batches
/// with <c>XRANGE</c> from its position and waits for the writer's pub/sub notification between
/// reads. StackExchange.Redis holds one subscription per channel per process and fans messages
/// out to every handler, so many readers of a stream in one process cost one subscription.
/// Notifications are at most once, so a reader also polls every
/// <see cref="RedisStreamStoreOptions.PollInterval"/>; a poll that finds nothing checks the
/// writer's lease and ends the stream with an error event if the writer's process is gone.
/// Its buffer holds at most one read batch: the stream in Redis is its backlog.
/// </summary>
internal sealed partial class RemoteStreamReader : IStreamReader
{
    private readonly RedisStreamStore _store;
    private readonly StreamKeys _keys;
    private readonly Action<RedisChannel, RedisValue> _onNotify;
    private readonly Queue<StreamEvent> _buffer = new();
    private readonly List<StreamEvent> _decoded = [];
    private string _writerNode = string.Empty;
    private long _next;
    private bool _knownEnded;
    private bool _finished;
    private int _version;
    private int _interrupted;
    private TaskCompletionSource? _waiter;
    private long _failingSince;
    private int _disposed;

    private RemoteStreamReader(RedisStreamStore store, StreamKeys keys, long afterSeq)
    {
        _store = store;
        _keys = keys;
        _next = afterSeq + 1;
        _onNotify = (_, _) => Notify();
    }

    public string StreamId => _keys.Id;

    /// <summary>
    /// Subscribes, counts the reader in the stream's meta hash, and returns it; null with
    /// <see cref="StreamOpenStatus.NotFound"/> when the stream is unknown, or with
    /// <see cref="StreamOpenStatus.Truncated"/> when retention already dropped events after <paramref name="afterSeq"/>.
    /// </summary>
    public static async Task<(StreamOpenStatus Status, RemoteStreamReader? Reader)> OpenAsync(RedisStreamStore store, StreamKeys keys, long afterSeq)
    {
        var subscriber = store.Connection.GetSubscriber();
        var reader = new RemoteStreamReader(store, keys, afterSeq);
        try
        {
            // Subscribed before the first read, so no notification falls between them.
            var subscribed = subscriber.SubscribeAsync(keys.Notify, reader._onNotify);
            var opened = store.Database.ScriptEvaluateAsync(StreamScripts.OpenReader, [keys.Meta], [store.ReaderField]);
            await subscribed.ConfigureAwait(false);
            var meta = StreamMeta.Parse(keys.Id, await opened.ConfigureAwait(false));
            if (meta is null)
            {
                await subscriber.UnsubscribeAsync(keys.Notify, reader._onNotify).ConfigureAwait(false);
                return (StreamOpenStatus.NotFound, null);
            }

            reader._writerNode = meta.Node;
            reader._knownEnded = meta.State != StreamState.Running;
            if (afterSeq + 1 < meta.FirstHeld)
            {
                await reader.DisposeAsync().ConfigureAwait(false);
                return (StreamOpenStatus.Truncated, null);
            }

            return (StreamOpenStatus.Opened, reader);
        }
        catch (Exception ex) when (RedisStreamStore.IsRedisFailure(ex))
        {
            _ = subscriber.UnsubscribeAsync(keys.Notify, reader._onNotify, CommandFlags.FireAndForget);
            throw new StreamStoreUnavailableException("The Redis stream store is unavailable.", ex);
        }
    }

    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken)
    {
        if (_buffer.Count > 0)
        {
            return new(true);
        }

        if (_finished)
        {
            return new(false);
        }

        return WaitSlowAsync(cancellationToken);
    }

    public bool TryRead(out StreamEvent streamEvent)
    {
        if (!_buffer.TryDequeue(out streamEvent))
        {
            return false;
        }

        if (streamEvent.IsTerminal)
        {
            _finished = true;
            _buffer.Clear();
        }

        return true;
    }

    public void Interrupt()
    {
        Volatile.Write(ref _interrupted, 1);
        Notify();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            var subscriber = _store.Connection.GetSubscriber();
            _ = subscriber.UnsubscribeAsync(_keys.Notify, _onNotify, CommandFlags.FireAndForget);
            // Uncount this reader; when it was this process' last, the writer's process hears of it.
            await _store.Database.ScriptEvaluateAsync(StreamScripts.CloseReader, [_keys.Meta], [_store.ReaderField, _store.ControlPrefix, "i:" + _keys.Id]).ConfigureAwait(false);
        }
        catch (Exception ex) when (RedisStreamStore.IsRedisFailure(ex))
        {
            LogCloseFailed(_store.Logger, ex, _keys.Id);
        }
    }

    private void Notify()
    {
        Interlocked.Increment(ref _version);
        Volatile.Read(ref _waiter)?.TrySetResult();
    }

    private async ValueTask<bool> WaitSlowAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_buffer.Count > 0)
            {
                return true;
            }

            var version = Volatile.Read(ref _version);
            if (await FetchAsync().ConfigureAwait(false))
            {
                return true;
            }

            if (_finished)
            {
                return false;
            }

            var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _waiter, waiter);
            var timedOut = false;
            if (Volatile.Read(ref _version) == version)
            {
                try
                {
                    await waiter.Task.WaitAsync(_failingSince != 0 ? _store.Options.PollInterval / 4 : _store.Options.PollInterval, _store.TimeProvider, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    timedOut = true;
                }
            }

            Volatile.Write(ref _waiter, null);
            if (Interlocked.Exchange(ref _interrupted, 0) == 1)
            {
                return true;
            }

            if (timedOut && _failingSince == 0)
            {
                await CheckWriterAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Reads the next batches into the buffer. True when it holds events now.</summary>
    private async Task<bool> FetchAsync()
    {
        StreamEntry[] entries;
        try
        {
            entries = await _store.Database.StreamRangeAsync(_keys.Events, $"{_next}-0", "+", _store.Options.ReadBatchEntries).ConfigureAwait(false);
            _failingSince = 0;
        }
        catch (Exception ex) when (RedisStreamStore.IsRedisFailure(ex))
        {
            return OnFetchFailed(ex);
        }

        foreach (var entry in entries)
        {
            var last = StreamMeta.SeqOf(entry.Id);
            if (last < _next)
            {
                continue;
            }

            _decoded.Clear();
            EventBatchCodec.Read((byte[])entry[EventBatchCodec.Field]!, last, _decoded);
            foreach (var streamEvent in _decoded)
            {
                if (streamEvent.Seq >= _next)
                {
                    _buffer.Enqueue(streamEvent);
                    _next = streamEvent.Seq + 1;
                    if (streamEvent.IsTerminal)
                    {
                        return true;
                    }
                }
            }
        }

        if (_buffer.Count == 0 && entries.Length == 0 && _knownEnded)
        {
            // Positioned past the terminal event of an ended (or expired) stream.
            _finished = true;
        }

        return _buffer.Count > 0;
    }

    private bool OnFetchFailed(Exception ex)
    {
        var now = _store.TimeProvider.GetTimestamp();
        if (_failingSince == 0)
        {
            _failingSince = now;
            LogReadFailed(_store.Logger, ex, _keys.Id);
        }

        if (_store.TimeProvider.GetElapsedTime(_failingSince, now) < _store.Options.ReadRetryTimeout)
        {
            return false;
        }

        // Never leave a reader hanging: end the stream for this reader with an error event.
        _buffer.Enqueue(StreamEvent.Failure(_next, new StreamError("The stream store became unavailable while reading.", "server_error", "store_unavailable")));
        return true;
    }

    /// <summary>A poll found nothing: has the stream ended, expired, or lost its writer's process?</summary>
    private async Task CheckWriterAsync()
    {
        try
        {
            var database = _store.Database;
            var state = database.HashGetAsync(_keys.Meta, StreamMeta.StateField);
            var alive = database.KeyExistsAsync(StreamKeys.Lease(_store.Prefix, _writerNode));
            var stateValue = await state.ConfigureAwait(false);
            if (stateValue.IsNull)
            {
                // Expired, or lost with a Redis restart: nothing more will come.
                var wasRunning = !_knownEnded;
                _knownEnded = true;
                if (!await FetchAsync().ConfigureAwait(false) && wasRunning)
                {
                    _buffer.Enqueue(StreamEvent.Failure(_next, new StreamError("The stream is no longer held by the stream store.", "server_error", "stream_lost")));
                }

                return;
            }

            if (stateValue != StreamMeta.StateName(StreamState.Running))
            {
                _knownEnded = true;
                return;
            }

            if (!await alive.ConfigureAwait(false))
            {
                var error = EventBatchCodec.EncodeError(new StreamError("The server generating this stream stopped responding.", "server_error", "writer_lost"), default);
                var ttl = (long)Math.Max(1, _store.StoreOptions.CompletedTtl.TotalMilliseconds);
                var seq = (long)await database.ScriptEvaluateAsync(StreamScripts.Abandon, [_keys.Meta, _keys.Events], [_writerNode, error, ttl, _keys.Notify.ToString()]).ConfigureAwait(false);
                if (seq > 0)
                {
                    LogWriterLost(_store.Logger, _keys.Id, _writerNode);
                }
            }
        }
        catch (Exception ex) when (RedisStreamStore.IsRedisFailure(ex))
        {
            OnFetchFailed(ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading stream {StreamId} from Redis failed; retrying")]
    private static partial void LogReadFailed(ILogger logger, Exception exception, string streamId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not uncount a reader of stream {StreamId} in Redis")]
    private static partial void LogCloseFailed(ILogger logger, Exception exception, string streamId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stream {StreamId} ended with an error: its writer's process {Node} lost its lease")]
    private static partial void LogWriterLost(ILogger logger, string streamId, string node);
}
