using System.Buffers;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Tokenflow.Core.Streams;

namespace Tokenflow.Redis;

/// <summary>
/// The writer of one stream in the process that runs its generation. Appends go to an in-memory
/// log (the same 24-byte records as the memory store); a send loop ships everything appended since
/// its last batch as one Redis stream entry and, while that is in flight, the next batch gathers —
/// group commit, so a fast model costs one round trip per batch, not per token. Readers in this
/// process read the in-memory log, but only up to what Redis has acknowledged, so nothing a reader
/// has seen can be missing for a reader elsewhere. If Redis fails or refuses a batch the stream is
/// lost: the generation is stopped and local readers end with an error event.
/// </summary>
internal sealed partial class RedisStreamWriter : IStreamWriter
{
    private const int BlockShift = 8;
    private const int BlockSize = 1 << BlockShift;
    private const int SegmentSize = 16 * 1024;

    private readonly Lock _gate = new();
    private readonly RedisStreamStore _store;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<LocalStreamReader> _readers = [];
    private readonly ArrayBufferWriter<byte> _batch = new(1024);
    private StreamEventRecord[]?[] _blocks = new StreamEventRecord[4][];
    private byte[] _segment = [];
    private int _segmentUsed;
    private long _count;
    private long _sent;
    private long _acked;
    private StreamState _state = StreamState.Running;
    private Usage _usage;
    private StreamError? _lost;
    private bool _sending;
    private TaskCompletionSource? _flushed;
    private ITimer? _graceTimer;
    private int _disposed;

    public RedisStreamWriter(RedisStreamStore store, StreamDescriptor descriptor, StreamKeys keys)
    {
        _store = store;
        Descriptor = descriptor;
        Keys = keys;
    }

    public StreamDescriptor Descriptor { get; }

    public StreamKeys Keys { get; }

    public string StreamId => Descriptor.Id;

    public CancellationToken Stopping => _stopping.Token;

    /// <summary>Completes when the terminal event is in Redis or the stream was lost.</summary>
    public Task Drained => _drained.Task;

    public bool IsRunning
    {
        get
        {
            lock (_gate)
            {
                return _state == StreamState.Running && _lost is null;
            }
        }
    }

    internal Lock Gate => _gate;

    /// <summary>Last seq Redis holds; readers here read up to it. Read under <see cref="Gate"/>.</summary>
    internal long Acked => _acked;

    internal long Count => _count;

    internal bool HasEnded => _state != StreamState.Running;

    /// <summary>Why the stream was lost, or null. Read under <see cref="Gate"/>.</summary>
    internal StreamError? Lost => _lost;

    public bool TryAppendDelta(ReadOnlySpan<byte> utf8Text)
    {
        if (utf8Text.IsEmpty)
        {
            return true;
        }

        bool start;
        lock (_gate)
        {
            if (_state != StreamState.Running)
            {
                throw new InvalidOperationException("The stream has ended.");
            }

            if (_lost is not null)
            {
                // Already stopping; the generation ends at its next check of Stopping.
                return true;
            }

            // Keep room for the terminal usage and done events.
            if (_count + 2 >= _store.StoreOptions.MaxEventsPerStream)
            {
                return false;
            }

            var (segment, offset) = CopyText(utf8Text);
            AppendLocked(new StreamEventRecord(segment, offset, utf8Text.Length, StreamEventKind.Delta, FinishReason.None));
            start = StartSendingLocked();
        }

        if (start)
        {
            StartSending();
        }

        return true;
    }

    public void Complete(FinishReason finishReason, Usage usage, Timings timings)
    {
        bool start;
        lock (_gate)
        {
            if (_state != StreamState.Running)
            {
                return;
            }

            var payload = new TerminalPayload(usage, timings, null);
            AppendLocked(new StreamEventRecord(payload, 0, 0, StreamEventKind.Usage, finishReason));
            AppendLocked(new StreamEventRecord(payload, 0, 0, StreamEventKind.Done, finishReason));
            _usage = usage;
            _state = finishReason == FinishReason.Cancelled ? StreamState.Cancelled : StreamState.Completed;
            start = EndLocked();
        }

        _store.OnEnded();
        if (start)
        {
            StartSending();
        }
    }

    public void Fail(StreamError error, Usage usage)
    {
        bool start;
        lock (_gate)
        {
            if (_state != StreamState.Running)
            {
                return;
            }

            AppendLocked(new StreamEventRecord(new TerminalPayload(usage, default, error), 0, 0, StreamEventKind.Error, FinishReason.Error));
            _usage = usage;
            _state = StreamState.Failed;
            start = EndLocked();
        }

        _store.OnEnded();
        if (start)
        {
            StartSending();
        }
    }

    /// <summary>
    /// Returns at once while fewer than <see cref="RedisStreamStoreOptions.MaxPendingEvents"/> events
    /// wait for Redis (so a fast model never waits per token); beyond that, and after the terminal
    /// event, waits until Redis has acknowledged them.
    /// </summary>
    public ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        Task wait;
        lock (_gate)
        {
            if (IsFlushedLocked())
            {
                return ValueTask.CompletedTask;
            }

            wait = (_flushed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }

        return new ValueTask(wait.WaitAsync(cancellationToken));
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // A writer that goes away without ending its stream must not leave readers hanging.
        Fail(new StreamError("The generation ended without a result.", "server_error", "writer_abandoned"), _usage);
        await _drained.Task.ConfigureAwait(false);
        lock (_gate)
        {
            _graceTimer?.Dispose();
            _graceTimer = null;
        }

        // From now on readers here read the stream from Redis like any other process.
        _store.Unregister(this);
    }

    public StreamStatus GetStatus()
    {
        lock (_gate)
        {
            return _lost is null
                ? new StreamStatus(StreamId, Descriptor.Model, _state, Descriptor.Created, _acked, _usage)
                : new StreamStatus(StreamId, Descriptor.Model, StreamState.Failed, Descriptor.Created, _acked + 1, _usage);
        }
    }

    public void RequestStop()
    {
        try
        {
            _stopping.Cancel();
        }
        catch (AggregateException ex)
        {
            LogStopCallbackFailed(_store.Logger, ex, StreamId);
        }
    }

    public LocalStreamReader OpenReader(long afterSeq)
    {
        var reader = new LocalStreamReader(this, afterSeq + 1);
        lock (_gate)
        {
            _readers.Add(reader);
            _graceTimer?.Dispose();
            _graceTimer = null;
        }

        return reader;
    }

    public void CloseReader(LocalStreamReader reader)
    {
        lock (_gate)
        {
            _readers.Remove(reader);
            if (_readers.Count == 0)
            {
                ScheduleGraceLocked(GracePeriod);
            }
        }
    }

    /// <summary>A process elsewhere lost its last reader of this stream.</summary>
    public void OnRemoteIdle()
    {
        lock (_gate)
        {
            if (_readers.Count == 0)
            {
                ScheduleGraceLocked(GracePeriod);
            }
        }
    }

    /// <summary>Reads the event with <paramref name="seq"/>; the caller holds <see cref="Gate"/> and checked it against <see cref="Acked"/>.</summary>
    internal StreamEvent ReadLocked(long seq)
    {
        var index = seq - 1;
        return new StreamEvent(seq, _blocks[index >> BlockShift]![index & (BlockSize - 1)]);
    }

    /// <summary>The terminal event readers here see at <paramref name="seq"/> once the stream was lost.</summary>
    internal StreamEvent LostEventLocked(long seq)
        => new(seq, new StreamEventRecord(new TerminalPayload(_usage, default, _lost), 0, 0, StreamEventKind.Error, FinishReason.Error));

    private TimeSpan GracePeriod => Descriptor.ResumeGrace ?? _store.StoreOptions.ResumeGrace;

    private bool IsFlushedLocked()
        => _lost is not null || _count - _acked <= (_state == StreamState.Running ? _store.Options.MaxPendingEvents : 0);

    private void ScheduleGraceLocked(TimeSpan delay)
    {
        if (_state != StreamState.Running || Descriptor.Background || _lost is not null)
        {
            return;
        }

        _graceTimer?.Dispose();
        _graceTimer = _store.TimeProvider.CreateTimer(static s => _ = ((RedisStreamWriter)s!).OnGraceExpiredAsync(), this, delay > TimeSpan.Zero ? delay : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
    }

    private async Task OnGraceExpiredAsync()
    {
        lock (_gate)
        {
            if (_readers.Count > 0 || _state != StreamState.Running)
            {
                return;
            }
        }

        long remote;
        try
        {
            // Readers on other processes count too (their processes must be alive).
            remote = await _store.CountRemoteReadersAsync(Keys).ConfigureAwait(false);
        }
        catch (Exception ex) when (RedisStreamStore.IsRedisFailure(ex))
        {
            remote = -1;
        }

        lock (_gate)
        {
            if (_readers.Count > 0 || _state != StreamState.Running)
            {
                return;
            }

            if (remote != 0)
            {
                // Watch the remote readers: their process may die without saying so.
                ScheduleGraceLocked(_store.Options.LeaseTimeout);
                return;
            }

            _graceTimer?.Dispose();
            _graceTimer = null;
        }

        RequestStop();
    }

    private bool StartSendingLocked()
    {
        if (_sending || _lost is not null)
        {
            return false;
        }

        _sending = true;
        return true;
    }

    private void StartSending()
        => ThreadPool.UnsafeQueueUserWorkItem(static s => _ = s.SendAsync(), this, preferLocal: false);

    private async Task SendAsync()
    {
        var database = _store.Database;
        while (true)
        {
            long to;
            bool final;
            RedisValue entryId;
            StreamState state;
            Usage usage;
            lock (_gate)
            {
                if (_lost is not null || _sent == _count)
                {
                    _sending = false;
                    return;
                }

                if (!_store.LeaseHeld)
                {
                    _sending = false;
                    LoseLocked(new StreamError("This server lost contact with the stream store; the stream was ended.", "server_error", "store_unavailable"));
                    break;
                }

                _batch.ResetWrittenCount();
                for (var seq = _sent + 1; seq <= _count; seq++)
                {
                    var index = seq - 1;
                    EventBatchCodec.Write(_batch, _blocks[index >> BlockShift]![index & (BlockSize - 1)]);
                }

                to = _count;
                _sent = to;
                state = _state;
                usage = _usage;
                final = state != StreamState.Running;
                entryId = $"{to}-0";
            }

            StreamError? failure = null;
            try
            {
                if (final)
                {
                    var ttl = (long)_store.StoreOptions.CompletedTtl.TotalMilliseconds;
                    var done = (long)await database.ScriptEvaluateAsync(
                        StreamScripts.Finish,
                        [Keys.Meta, Keys.Events],
                        [entryId, _batch.WrittenMemory, StreamMeta.StateName(state), to, usage.PromptTokens, usage.CompletionTokens, Math.Max(1, ttl), _store.Node, Keys.Notify.ToString()]).ConfigureAwait(false);
                    if (done == 0)
                    {
                        failure = new StreamError("The stream was ended elsewhere (its server was presumed dead) or lost by the stream store.", "server_error", "stream_lost");
                    }
                }
                else
                {
                    var added = database.StreamAddAsync(Keys.Events, EventBatchCodec.Field, _batch.WrittenMemory, new StreamAddOptions { MessageId = entryId, CreateStream = false });
                    // Pipelined behind the append: readers elsewhere are woken once it is readable.
                    _ = database.PublishAsync(Keys.Notify, to, CommandFlags.FireAndForget);
                    if ((await added.ConfigureAwait(false)).IsNull)
                    {
                        failure = new StreamError("The stream store lost the stream (Redis restarted?).", "server_error", "stream_lost");
                    }
                }
            }
            catch (Exception ex) when (RedisStreamStore.IsRedisFailure(ex))
            {
                LogSendFailed(_store.Logger, ex, StreamId);
                failure = new StreamError("The stream store became unavailable while generating.", "server_error", "store_unavailable");
            }

            lock (_gate)
            {
                if (failure is not null)
                {
                    _sending = false;
                    LoseLocked(failure);
                    break;
                }

                _acked = to;
                foreach (var reader in _readers)
                {
                    reader.Signal();
                }

                CompleteFlushLocked();
                if (final)
                {
                    _sending = false;
                    break;
                }
            }
        }

        // Final batch acknowledged or stream lost.
        _drained.TrySetResult();
    }

    private void LoseLocked(StreamError error)
    {
        _lost = error;
        _sent = _count;
        foreach (var reader in _readers)
        {
            reader.Signal();
        }

        CompleteFlushLocked();
        _graceTimer?.Dispose();
        _graceTimer = null;
        LogLost(_store.Logger, StreamId, error.Code);
        ThreadPool.UnsafeQueueUserWorkItem(static s => s.RequestStop(), this, preferLocal: false);
    }

    private void CompleteFlushLocked()
    {
        if (_flushed is not null && IsFlushedLocked())
        {
            _flushed.TrySetResult();
            _flushed = null;
        }
    }

    private bool EndLocked()
    {
        _graceTimer?.Dispose();
        _graceTimer = null;
        if (_lost is not null)
        {
            _drained.TrySetResult();
            return false;
        }

        return StartSendingLocked();
    }

    private (byte[] Segment, int Offset) CopyText(ReadOnlySpan<byte> text)
    {
        if (text.Length > SegmentSize / 4)
        {
            return (text.ToArray(), 0);
        }

        if (_segment.Length - _segmentUsed < text.Length)
        {
            // Segments are not pooled: readers here may hold event text after the writer is gone.
            _segment = new byte[SegmentSize];
            _segmentUsed = 0;
        }

        var offset = _segmentUsed;
        text.CopyTo(_segment.AsSpan(offset));
        _segmentUsed += text.Length;
        return (_segment, offset);
    }

    private void AppendLocked(in StreamEventRecord record)
    {
        var index = _count;
        var block = (int)(index >> BlockShift);
        if (block == _blocks.Length)
        {
            Array.Resize(ref _blocks, _blocks.Length * 2);
        }

        var records = _blocks[block] ??= new StreamEventRecord[BlockSize];
        records[index & (BlockSize - 1)] = record;
        _count = index + 1;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stream {StreamId} could not be written to Redis")]
    private static partial void LogSendFailed(ILogger logger, Exception exception, string streamId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stream {StreamId} was lost ({Code}); its generation is stopped")]
    private static partial void LogLost(ILogger logger, string streamId, string? code);

    [LoggerMessage(Level = LogLevel.Error, Message = "A Stopping callback of stream {StreamId} failed")]
    private static partial void LogStopCallbackFailed(ILogger logger, Exception exception, string streamId);
}
