using System.Buffers;
using Microsoft.Extensions.Logging;

namespace Tokenflow.Core.Streams;

/// <summary>
/// One stream's log and its writer: the one implementation of append, complete, fail, grace
/// periods, retention and readers that every store builds on. The memory store keeps its streams
/// in these logs; the Redis store keeps the log of each generation it runs in one, replicates it
/// (<see cref="StreamLogSettings.MaxUncommitted"/>, <see cref="TakeUnsent{TState}"/>,
/// <see cref="Commit"/>) and reads other processes' streams from Redis.
/// </summary>
/// <remarks>
/// Events are 24-byte records in blocks of 256 (the first block grows from 16, so a short stream
/// holds little), text in byte segments growing from 512 B to 16 KiB, all rented from
/// <see cref="ArrayPool{T}"/> and returned on <see cref="Release"/> once no reader holds event
/// text — so in steady state an append copies the text once and allocates nothing. Readers are
/// positions in the log (fan-out costs no memory per reader) and wait on an allocation-free
/// signal. Under <see cref="StreamRetention.None"/>, whole blocks and segments every attached
/// reader has passed are dropped as new blocks start, so memory follows reader lag, not output
/// length. Thread-safe: one writer task, any number of reader tasks and timers.
/// </remarks>
public sealed partial class StreamLog : IStreamWriter
{
    /// <summary>Bytes charged per event on top of its text: the record and index slot.</summary>
    public const int EventOverheadBytes = 48;

    private const int BlockShift = 8;
    private const int BlockSize = 1 << BlockShift;
    private const int BlockMask = BlockSize - 1;
    private const int FirstBlockSize = 16;
    private const int FirstSegmentSize = 512;
    private const int MaxSegmentSize = 16 * 1024;

    private readonly Lock _gate = new();
    private readonly StreamLogSettings _settings;
    private readonly IStreamLogHost? _host;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<StreamLogReader> _readers = [];
    private readonly Queue<(byte[] Segment, long LastSeq)> _retiredSegments = new();
    private StreamEventRecord[]?[] _blocks = new StreamEventRecord[4][];
    private int _firstBlock;
    private long _firstHeld = 1;
    private byte[] _segment = [];
    private int _segmentUsed;
    private long _count;
    private long _committed;
    private long _sent;
    private StreamState _state = StreamState.Running;
    private Usage _usage;
    private long _liveUsage;
    private long _chargedBytes;
    private StreamError? _lost;
    private volatile bool _abandoned;
    private bool _sending;
    private TaskCompletionSource? _flushed;
    private ITimer? _graceTimer;
    private long _endedAt;
    private bool _released;
    private bool _returned;
    private int _disposed;

    /// <summary>Creates the log of a new stream.</summary>
    /// <param name="descriptor">What the stream was created with.</param>
    /// <param name="settings">Limits and clock, shared by the store's logs.</param>
    /// <param name="host">The store, told about ends, replication and idleness; null for none.</param>
    public StreamLog(StreamDescriptor descriptor, StreamLogSettings settings, IStreamLogHost? host = null)
    {
        Descriptor = descriptor;
        _settings = settings;
        _host = host;
        Retention = descriptor.Retention ?? settings.Retention;
    }

    /// <summary>What the stream was created with.</summary>
    public StreamDescriptor Descriptor { get; }

    /// <inheritdoc />
    public string StreamId => Descriptor.Id;

    /// <inheritdoc />
    public CancellationToken Stopping => _stopping.Token;

    /// <inheritdoc />
    public long LastSeq => Volatile.Read(ref _count);

    /// <summary>This stream's retention policy.</summary>
    public StreamRetention Retention { get; }

    /// <summary>Bytes this log charges to the store's budget now.</summary>
    public long ChargedBytes => Interlocked.Read(ref _chargedBytes);

    /// <summary>True once the terminal event is appended.</summary>
    public bool HasEnded => Volatile.Read(ref _endedAt) != 0;

    /// <summary>When the stream ended (a <see cref="TimeProvider.GetTimestamp"/> value), 0 while it runs.</summary>
    public long EndedAt => Volatile.Read(ref _endedAt);

    /// <summary>The first seq the log still holds (1 unless retention released events).</summary>
    public long FirstHeld
    {
        get
        {
            lock (_gate)
            {
                return _firstHeld;
            }
        }
    }

    /// <summary>The bytes of record blocks and text segments this log holds right now (for tests and benchmarks).</summary>
    public long HeldBytes
    {
        get
        {
            lock (_gate)
            {
                long bytes = 0;
                for (var i = _firstBlock; i < _blocks.Length; i++)
                {
                    bytes += (_blocks[i]?.Length ?? 0) * (long)System.Runtime.CompilerServices.Unsafe.SizeOf<StreamEventRecord>();
                }

                foreach (var (segment, _) in _retiredSegments)
                {
                    bytes += segment.Length;
                }

                return bytes + _segment.Length;
            }
        }
    }

    /// <summary>True when a replicated log lost its replica (see <see cref="Lose"/>).</summary>
    public bool IsLost
    {
        get
        {
            lock (_gate)
            {
                return _lost is not null;
            }
        }
    }

    /// <summary>Completes when the terminal event is committed (at once for a log that is not replicated), or the log is lost.</summary>
    public Task Drained => _drained.Task;

    /// <summary>The lock readers take; <see cref="StreamLogReader"/> only.</summary>
    internal Lock Gate => _gate;

    /// <summary>Events readers may read (all of them unless replicated). Read under <see cref="Gate"/>, or volatile for a hint.</summary>
    internal ref long CommittedField => ref _committed;

    /// <summary>Events appended. Read under <see cref="Gate"/>.</summary>
    internal long CountLocked => _count;

    /// <summary>Why the log was lost, or null. Read under <see cref="Gate"/>.</summary>
    internal StreamError? LostLocked => _lost;

    /// <summary>True once <see cref="Stopping"/> fired because every reader had left and the resume grace ran out (metrics: cause <c>abandoned</c>).</summary>
    internal bool Abandoned => _abandoned;

    /// <summary>True once the store lost this log (metrics: cause <c>error</c>).</summary>
    internal bool Lost => Volatile.Read(ref _lost) is not null;

    /// <summary>True once the terminal event is appended. Read under <see cref="Gate"/>.</summary>
    internal bool EndedLocked => _state != StreamState.Running;

    /// <inheritdoc />
    public bool TryAppendDelta(ReadOnlySpan<byte> utf8Text) => TryAppendDelta(DeltaChannel.Content, utf8Text);

    /// <inheritdoc />
    public bool TryAppendDelta(DeltaChannel channel, ReadOnlySpan<byte> utf8Text, int toolCallIndex = 0)
        => utf8Text.IsEmpty || TryAppend(null, utf8Text, channel, toolCallIndex);

    /// <inheritdoc />
    public bool TryAppendToolCallStart(int index, string id, string name, ReadOnlySpan<byte> arguments)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(index, ushort.MaxValue);
        return TryAppend(new ToolCallHeader(id, name, arguments.ToArray()), arguments, DeltaChannel.ToolCall, index);
    }

    /// <inheritdoc />
    public bool TryAppendWatch(WatchMatch match) => TryAppend(match, default, DeltaChannel.Content, 0);

    // Appends a delta (payload null: the text goes into a segment; a ToolCallHeader: it holds its
    // own text) or a watch event.
    private bool TryAppend(object? payload, ReadOnlySpan<byte> utf8Text, DeltaChannel channel, int toolCallIndex)
    {
        var cost = utf8Text.Length + EventOverheadBytes + payload switch
        {
            ToolCallHeader header => 2 * (header.Id.Length + header.Name.Length),
            WatchMatch watch => 2 * (watch.WatchId.Length + watch.MatchJson.Length),
            _ => 0,
        };
        bool replicate;
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
            if (_count + 2 >= _settings.MaxEvents || (_settings.Budget is { } budget && !budget.TryCharge(cost)))
            {
                return false;
            }

            _chargedBytes += cost;
            if (payload is null)
            {
                var (segment, offset) = CopyText(utf8Text);
                AppendLocked(new StreamEventRecord(segment, offset, utf8Text.Length, StreamEventKind.Delta, FinishReason.None, channel, (ushort)toolCallIndex));
            }
            else
            {
                var kind = payload is WatchMatch ? StreamEventKind.Watch : StreamEventKind.Delta;
                AppendLocked(new StreamEventRecord(payload, 0, utf8Text.Length, kind, FinishReason.None, channel, (ushort)toolCallIndex));
            }

            replicate = StartReplicationLocked();
        }

        if (replicate)
        {
            _host!.OnReplicationNeeded(this);
        }

        return true;
    }

    /// <inheritdoc />
    public void ReportUsage(Usage usage)
        => Volatile.Write(ref _liveUsage, ((long)usage.PromptTokens << 32) | (uint)usage.CompletionTokens);

    /// <inheritdoc />
    public void Complete(FinishReason finishReason, Usage usage, Timings timings, string? stopSequence = null)
    {
        var payload = new TerminalPayload(usage, timings, null, stopSequence);
        End(
            new StreamEventRecord(payload, 0, 0, StreamEventKind.Usage, finishReason),
            new StreamEventRecord(payload, 0, 0, StreamEventKind.Done, finishReason),
            finishReason == FinishReason.Cancelled ? StreamState.Cancelled : StreamState.Completed,
            usage);
    }

    /// <inheritdoc />
    public void Fail(StreamError error, Usage usage)
        => End(new StreamEventRecord(new TerminalPayload(usage, default, error), 0, 0, StreamEventKind.Error, FinishReason.Error), null, StreamState.Failed, usage);

    /// <summary>
    /// Returns at once unless the log is replicated and more than
    /// <see cref="StreamLogSettings.MaxUncommitted"/> events wait for the replica (so a fast model
    /// never waits per token); after the terminal event, waits until everything is committed.
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

    /// <summary>Ends the stream if its writer did not (readers must never hang), waits until it is drained, and tells the host.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Fail(new StreamError("The generation ended without a result.", "server_error", "writer_abandoned"), _usage);
        await _drained.Task.ConfigureAwait(false);
        lock (_gate)
        {
            _graceTimer?.Dispose();
            _graceTimer = null;
        }

        _host?.OnDisposed(this);
    }

    /// <summary>The stream's status: the last seq readers can see, and the usage so far (final once ended).</summary>
    public StreamStatus GetStatus()
    {
        lock (_gate)
        {
            if (_lost is not null)
            {
                return new StreamStatus(StreamId, Descriptor.Model, StreamState.Failed, Descriptor.Created, _committed + 1, _usage);
            }

            var usage = _usage;
            if (_state == StreamState.Running)
            {
                var live = Volatile.Read(ref _liveUsage);
                usage = new Usage((int)(live >> 32), (int)(uint)live);
            }

            return new StreamStatus(StreamId, Descriptor.Model, _state, Descriptor.Created, _committed, usage);
        }
    }

    /// <summary>Signals <see cref="Stopping"/>: the generation stops within one token.</summary>
    public void RequestStop()
    {
        try
        {
            _stopping.Cancel();
        }
        catch (AggregateException ex)
        {
            // The stream still stops: the generation checks the token.
            LogStopCallbackFailed(_settings.Logger, ex, StreamId);
        }
    }

    /// <summary>
    /// Opens a reader positioned after <paramref name="afterSeq"/> (0 = from the start). Null with
    /// <see cref="StreamOpenStatus.NotFound"/> once the store released the log, or
    /// <see cref="StreamOpenStatus.Truncated"/> when retention already released events after that position.
    /// </summary>
    public IStreamReader? OpenReader(long afterSeq, out StreamOpenStatus status)
    {
        afterSeq = Math.Max(0, afterSeq);
        lock (_gate)
        {
            if (_released)
            {
                status = StreamOpenStatus.NotFound;
                return null;
            }

            if (afterSeq + 1 < _firstHeld)
            {
                status = StreamOpenStatus.Truncated;
                return null;
            }

            var reader = new StreamLogReader(this, afterSeq + 1);
            _readers.Add(reader);
            Diagnostics.TokenflowTelemetry.ReaderAttached(1);
            _graceTimer?.Dispose();
            _graceTimer = null;
            status = StreamOpenStatus.Opened;
            return reader;
        }
    }

    /// <summary>Readers elsewhere may have gone (a replicated log's host heard so): starts the grace period if none is attached here.</summary>
    public void CheckIdle()
    {
        bool now;
        lock (_gate)
        {
            now = _readers.Count == 0 && ScheduleGraceLocked(GracePeriod);
        }

        if (now)
        {
            _ = OnGraceExpiredAsync(timedOut: false);
        }
    }

    /// <summary>
    /// The store dropped the log: its budget is refunded, and its pooled buffers go back to the
    /// pool now, or when the last reader still holding event text closes. Readers opened after this get <see cref="StreamOpenStatus.NotFound"/>.
    /// </summary>
    public void Release()
    {
        lock (_gate)
        {
            if (_released)
            {
                return;
            }

            _released = true;
            _settings.Budget?.Refund(_chargedBytes);
            Interlocked.Exchange(ref _chargedBytes, 0);
            if (_readers.Count == 0)
            {
                ReturnBuffersLocked();
            }
        }
    }

    /// <summary>
    /// For a replicated log's send loop: hands the events appended since the last batch to
    /// <paramref name="write"/> (under the log's lock: copy them, do not block) and marks them sent.
    /// Returns false, ending the loop, when nothing is left to send or the log was lost.
    /// </summary>
    public bool TakeUnsent<TState>(TState state, Action<TState, StreamEvent> write, out StreamLogBatch batch)
    {
        ArgumentNullException.ThrowIfNull(write);
        lock (_gate)
        {
            if (_lost is not null || _sent == _count)
            {
                _sending = false;
                batch = default;
                return false;
            }

            for (var seq = _sent + 1; seq <= _count; seq++)
            {
                write(state, ReadLocked(seq));
            }

            batch = new StreamLogBatch(_sent + 1, _count, _state, _usage);
            _sent = _count;
            return true;
        }
    }

    /// <summary>For a replicated log's send loop: the replica holds every event up to <paramref name="toSeq"/>; readers may read them.</summary>
    public void Commit(long toSeq)
    {
        bool drained;
        lock (_gate)
        {
            if (_lost is not null || toSeq <= _committed)
            {
                return;
            }

            Volatile.Write(ref _committed, Math.Min(toSeq, _count));
            SignalReadersLocked();
            CompleteFlushLocked();
            drained = _state != StreamState.Running && _committed == _count;
        }

        if (drained)
        {
            _drained.TrySetResult();
        }
    }

    /// <summary>
    /// For a replicated log: the replica failed or refused a batch, so the stream cannot continue.
    /// Readers here read <paramref name="error"/> as the event after the last committed one, the
    /// status reports failed, and the generation is asked to stop.
    /// </summary>
    public void Lose(StreamError error)
    {
        lock (_gate)
        {
            if (_lost is not null || (_state != StreamState.Running && _committed == _count))
            {
                // Already lost, or nothing left to lose.
                return;
            }

            _lost = error;
            _sent = _count;
            _sending = false;
            SignalReadersLocked();
            CompleteFlushLocked();
            _graceTimer?.Dispose();
            _graceTimer = null;
        }

        _drained.TrySetResult();
        // Off this thread: Stopping callbacks may run arbitrary code (the send loop holds no lock here, but may be a Redis callback).
        ThreadPool.UnsafeQueueUserWorkItem(static s => s.RequestStop(), this, preferLocal: false);
    }

    /// <summary>Reads the event with <paramref name="seq"/>; the caller holds <see cref="Gate"/> and checked it is held and visible.</summary>
    internal StreamEvent ReadLocked(long seq)
    {
        var index = seq - 1;
        return new StreamEvent(seq, _blocks[index >> BlockShift]![index & BlockMask]);
    }

    /// <summary>The error event a reader here reads at <paramref name="seq"/> once the log is lost. Call under <see cref="Gate"/>.</summary>
    internal StreamEvent LostEventLocked(long seq) => StreamEvent.Failure(seq, _lost!, _usage);

    internal void CloseReader(StreamLogReader reader)
    {
        bool now;
        Diagnostics.TokenflowTelemetry.ReaderAttached(-1);
        lock (_gate)
        {
            _readers.Remove(reader);
            if (_released)
            {
                if (_readers.Count == 0)
                {
                    ReturnBuffersLocked();
                }

                return;
            }

            if (Retention == StreamRetention.None)
            {
                // Bounded by the readers left; when none is left, by what the leaving reader had passed.
                TrimLocked(_readers.Count > 0 ? long.MaxValue : reader.NextLocked);
            }

            if (_readers.Count > 0)
            {
                return;
            }

            now = ScheduleGraceLocked(GracePeriod);
        }

        if (now)
        {
            _ = OnGraceExpiredAsync(timedOut: false);
        }
    }

    private TimeSpan GracePeriod => Descriptor.ResumeGrace ?? _settings.ResumeGrace;

    private void End(in StreamEventRecord first, StreamEventRecord? second, StreamState state, Usage usage)
    {
        bool replicate;
        bool drained;
        lock (_gate)
        {
            if (_state != StreamState.Running)
            {
                return;
            }

            AppendTerminalLocked(first);
            if (second is { } record)
            {
                AppendTerminalLocked(record);
            }

            _usage = usage;
            _state = state;
            _graceTimer?.Dispose();
            _graceTimer = null;
            Volatile.Write(ref _endedAt, Math.Max(1, _settings.TimeProvider.GetTimestamp()));
            replicate = StartReplicationLocked();
            drained = _lost is not null || _committed == _count;
        }

        _host?.OnEnded(this);
        if (drained)
        {
            _drained.TrySetResult();
        }

        if (replicate)
        {
            _host!.OnReplicationNeeded(this);
        }
    }

    private bool StartReplicationLocked()
    {
        if (_settings.MaxUncommitted is null || _sending || _lost is not null || _host is null)
        {
            return false;
        }

        _sending = true;
        return true;
    }

    private bool IsFlushedLocked()
        => _settings.MaxUncommitted is not { } max || _lost is not null || _count - _committed <= (_state == StreamState.Running ? max : 0);

    private void CompleteFlushLocked()
    {
        if (_flushed is not null && IsFlushedLocked())
        {
            _flushed.TrySetResult();
            _flushed = null;
        }
    }

    private void SignalReadersLocked()
    {
        foreach (var reader in _readers)
        {
            reader.Signal();
        }
    }

    /// <summary>Starts the grace timer; true when there is no grace and the caller must decide now, after leaving the lock.</summary>
    private bool ScheduleGraceLocked(TimeSpan delay)
    {
        if (_state != StreamState.Running || Descriptor.Background || _lost is not null)
        {
            return false;
        }

        _graceTimer?.Dispose();
        _graceTimer = null;
        if (delay <= TimeSpan.Zero)
        {
            return true;
        }

        _graceTimer = _settings.TimeProvider.CreateTimer(static s => _ = ((StreamLog)s!).OnGraceExpiredAsync(timedOut: true), this, delay, Timeout.InfiniteTimeSpan);
        return false;
    }

    // timedOut: the grace timer ran out (the readers left and did not come back: abandoned); otherwise there was no
    // grace and the last reader leaving is the client's own stop.
    private async Task OnGraceExpiredAsync(bool timedOut)
    {
        lock (_gate)
        {
            if (_readers.Count > 0 || _state != StreamState.Running)
            {
                return;
            }
        }

        var again = _host is null ? null : await _host.OnIdleAsync(this).ConfigureAwait(false);
        lock (_gate)
        {
            if (_readers.Count > 0 || _state != StreamState.Running)
            {
                return;
            }

            if (again is { } delay)
            {
                // Readers elsewhere still follow the stream: ask again later.
                ScheduleGraceLocked(delay > TimeSpan.Zero ? delay : TimeSpan.FromMilliseconds(1));
                return;
            }

            _graceTimer?.Dispose();
            _graceTimer = null;
            _abandoned = timedOut && !_stopping.IsCancellationRequested;
        }

        RequestStop();
    }

    private (byte[] Segment, int Offset) CopyText(ReadOnlySpan<byte> text)
    {
        if (text.Length > MaxSegmentSize / 4)
        {
            // Rare large deltas get their own (unpooled) array.
            return (text.ToArray(), 0);
        }

        if (_segment.Length - _segmentUsed < text.Length)
        {
            var size = Math.Clamp(_segment.Length * 2, FirstSegmentSize, MaxSegmentSize);
            while (size < text.Length)
            {
                size *= 2;
            }

            if (_segment.Length > 0)
            {
                // The current segment's last event is the newest one appended so far.
                _retiredSegments.Enqueue((_segment, _count));
            }

            _segment = ArrayPool<byte>.Shared.Rent(size);
            _segmentUsed = 0;
        }

        var offset = _segmentUsed;
        text.CopyTo(_segment.AsSpan(offset));
        _segmentUsed += text.Length;
        return (_segment, offset);
    }

    private void AppendTerminalLocked(in StreamEventRecord record)
    {
        // Terminal events are always accepted, even over budget: a stream must end readably.
        _settings.Budget?.ForceCharge(EventOverheadBytes);
        _chargedBytes += EventOverheadBytes;
        AppendLocked(record);
    }

    private void AppendLocked(in StreamEventRecord record)
    {
        var index = _count;
        var block = (int)(index >> BlockShift);
        var slot = (int)(index & BlockMask);
        if (block == _blocks.Length)
        {
            Array.Resize(ref _blocks, _blocks.Length * 2);
        }

        var records = _blocks[block];
        if (records is null)
        {
            if (Retention == StreamRetention.None && _readers.Count > 0)
            {
                TrimLocked(long.MaxValue);
            }

            records = ArrayPool<StreamEventRecord>.Shared.Rent(block == 0 ? FirstBlockSize : BlockSize);
            _blocks[block] = records;
        }
        else if (slot == records.Length)
        {
            // Only the first block grows (16, 32, … 256).
            var grown = ArrayPool<StreamEventRecord>.Shared.Rent(Math.Min(BlockSize, records.Length * 2));
            records.AsSpan().CopyTo(grown);
            ArrayPool<StreamEventRecord>.Shared.Return(records, clearArray: true);
            records = grown;
            _blocks[block] = records;
        }

        records[slot] = record;
        _count = index + 1;
        if (_settings.MaxUncommitted is null)
        {
            Volatile.Write(ref _committed, _count);
            SignalReadersLocked();
        }
    }

    /// <summary>
    /// Retention <see cref="StreamRetention.None"/>: drops the blocks and segments whose events
    /// every attached reader has passed, and <paramref name="bound"/> (a leaving reader's position).
    /// </summary>
    private void TrimLocked(long bound)
    {
        if (_released || _count == 0)
        {
            return;
        }

        bound = Math.Min(bound, _committed + 1);
        foreach (var reader in _readers)
        {
            bound = Math.Min(bound, reader.NextLocked);
        }

        var lastBlock = (int)((_count - 1) >> BlockShift);
        var refund = 0L;
        while (_firstBlock < lastBlock && ((long)_firstBlock + 1) * BlockSize < bound)
        {
            var records = _blocks[_firstBlock]!;
            for (var i = 0; i < BlockSize; i++)
            {
                refund += records[i].Length + EventOverheadBytes;
            }

            // Readers copy records out under the lock, so no one holds this array.
            ArrayPool<StreamEventRecord>.Shared.Return(records, clearArray: true);
            _blocks[_firstBlock] = null;
            _firstBlock++;
        }

        _firstHeld = ((long)_firstBlock * BlockSize) + 1;
        while (_retiredSegments.TryPeek(out var retired) && retired.LastSeq < _firstHeld)
        {
            // Not returned to the pool: a reader may still hold the text of the last event it read.
            _retiredSegments.Dequeue();
        }

        if (refund > 0)
        {
            _chargedBytes -= refund;
            _settings.Budget?.Refund(refund);
        }
    }

    private void ReturnBuffersLocked()
    {
        if (_returned)
        {
            return;
        }

        _returned = true;
        for (var i = _firstBlock; i < _blocks.Length; i++)
        {
            if (_blocks[i] is { } records)
            {
                ArrayPool<StreamEventRecord>.Shared.Return(records, clearArray: true);
                _blocks[i] = null;
            }
        }

        while (_retiredSegments.TryDequeue(out var retired))
        {
            ArrayPool<byte>.Shared.Return(retired.Segment);
        }

        if (_segment.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_segment);
        }

        _segment = [];
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A Stopping callback of stream {StreamId} failed")]
    private static partial void LogStopCallbackFailed(ILogger logger, Exception exception, string streamId);
}
