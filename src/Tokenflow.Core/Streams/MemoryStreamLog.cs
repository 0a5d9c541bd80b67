using System.Buffers;

namespace Tokenflow.Core.Streams;

/// <summary>
/// One stream's log in memory and its writer. Events live in an array of 24-byte records and text
/// in byte segments, both rented from <see cref="ArrayPool{T}"/>, growing by doubling (records from
/// 16, segments from 512 B up to 16 KiB) so a short stream holds little, and returned when the
/// stream is evicted and its last reader has gone — so in steady state an append copies the text
/// once and allocates nothing. Readers index the log by seq under a short lock.
/// </summary>
internal sealed class MemoryStreamLog : IStreamWriter
{
    private const int FirstRecordCapacity = 16;
    private const int FirstSegmentSize = 512;
    private const int MaxSegmentSize = 16 * 1024;

    private readonly Lock _gate = new();
    private readonly MemoryStreamStore _store;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<MemoryStreamReader> _readers = [];
    private StreamEventRecord[] _records = [];
    private List<byte[]>? _segments;
    private long _count;
    private byte[] _segment = [];
    private int _segmentUsed;
    private StreamState _state = StreamState.Running;
    private Usage _usage;
    private long _liveUsage;
    private long _chargedBytes;
    private ITimer? _graceTimer;
    private long _endedAt;
    private bool _released;
    private bool _returned;

    public MemoryStreamLog(MemoryStreamStore store, StreamDescriptor descriptor)
    {
        _store = store;
        Descriptor = descriptor;
    }

    public StreamDescriptor Descriptor { get; }

    public string StreamId => Descriptor.Id;

    public CancellationToken Stopping => _stopping.Token;

    public long ChargedBytes => Interlocked.Read(ref _chargedBytes);

    public bool HasEnded => Volatile.Read(ref _endedAt) != 0;

    public long EndedAt => Volatile.Read(ref _endedAt);

    internal Lock Gate => _gate;

    internal long Count => _count;

    /// <summary>The event count for lock-free peeking (<see cref="MemoryStreamReader.HasBuffered"/>).</summary>
    internal ref long CountField => ref _count;

    public bool IsExpired(long now)
    {
        var ended = Volatile.Read(ref _endedAt);
        return ended != 0 && _store.TimeProvider.GetElapsedTime(ended, now) >= _store.Options.CompletedTtl;
    }

    public bool TryAppendDelta(ReadOnlySpan<byte> utf8Text)
    {
        if (utf8Text.IsEmpty)
        {
            return true;
        }

        var cost = utf8Text.Length + MemoryStreamStore.EventOverheadBytes;
        lock (_gate)
        {
            if (_state != StreamState.Running)
            {
                throw new InvalidOperationException("The stream has ended.");
            }

            // Keep room for the terminal usage and done events.
            if (_count + 2 >= _store.Options.MaxEventsPerStream || !_store.TryCharge(cost))
            {
                return false;
            }

            _chargedBytes += cost;
            var (segment, offset) = CopyText(utf8Text);
            AppendLocked(new StreamEventRecord(segment, offset, utf8Text.Length, StreamEventKind.Delta, FinishReason.None));
        }

        return true;
    }

    public void Complete(FinishReason finishReason, Usage usage, Timings timings)
    {
        lock (_gate)
        {
            if (_state != StreamState.Running)
            {
                return;
            }

            var payload = new TerminalPayload(usage, timings, null);
            AppendTerminalLocked(new StreamEventRecord(payload, 0, 0, StreamEventKind.Usage, finishReason));
            AppendTerminalLocked(new StreamEventRecord(payload, 0, 0, StreamEventKind.Done, finishReason));
            _usage = usage;
            _state = finishReason == FinishReason.Cancelled ? StreamState.Cancelled : StreamState.Completed;
            EndLocked();
        }

        _store.OnEnded(this);
    }

    public void Fail(StreamError error, Usage usage)
    {
        lock (_gate)
        {
            if (_state != StreamState.Running)
            {
                return;
            }

            AppendTerminalLocked(new StreamEventRecord(new TerminalPayload(usage, default, error), 0, 0, StreamEventKind.Error, FinishReason.Error));
            _usage = usage;
            _state = StreamState.Failed;
            EndLocked();
        }

        _store.OnEnded(this);
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask DisposeAsync()
    {
        // A writer that goes away without ending its stream must not leave readers hanging.
        Fail(new StreamError("The generation ended without a result.", "server_error", "writer_abandoned"), _usage);
        return ValueTask.CompletedTask;
    }

    public void ReportUsage(Usage usage)
        => Volatile.Write(ref _liveUsage, ((long)usage.PromptTokens << 32) | (uint)usage.CompletionTokens);

    public StreamStatus GetStatus()
    {
        lock (_gate)
        {
            var usage = _usage;
            if (_state == StreamState.Running)
            {
                var live = Volatile.Read(ref _liveUsage);
                usage = new Usage((int)(live >> 32), (int)(uint)live);
            }

            return new StreamStatus(Descriptor.Id, Descriptor.Model, _state, Descriptor.Created, _count, usage);
        }
    }

    public void RequestStop()
    {
        _stopping.Cancel();
    }

    /// <summary>Opens a reader, or returns null when the log was already evicted.</summary>
    public MemoryStreamReader? OpenReader(long afterSeq)
    {
        var reader = new MemoryStreamReader(this, afterSeq + 1);
        lock (_gate)
        {
            if (_released)
            {
                return null;
            }

            _readers.Add(reader);
            _graceTimer?.Dispose();
            _graceTimer = null;
        }

        return reader;
    }

    public void CloseReader(MemoryStreamReader reader)
    {
        lock (_gate)
        {
            _readers.Remove(reader);
            if (_released && _readers.Count == 0)
            {
                ReturnBuffersLocked();
                return;
            }

            if (_readers.Count > 0 || _state != StreamState.Running || Descriptor.Background)
            {
                return;
            }

            var grace = Descriptor.ResumeGrace ?? _store.Options.ResumeGrace;
            if (grace <= TimeSpan.Zero)
            {
                _graceTimer = null;
            }
            else
            {
                _graceTimer = _store.TimeProvider.CreateTimer(static s => ((MemoryStreamLog)s!).OnGraceExpired(), this, grace, Timeout.InfiniteTimeSpan);
                return;
            }
        }

        RequestStop();
    }

    /// <summary>Reads the event with <paramref name="seq"/>; the caller holds <see cref="Gate"/> and checked the bound.</summary>
    internal StreamEvent ReadLocked(long seq)
    {
        return new StreamEvent(seq, _records[seq - 1]);
    }

    /// <summary>
    /// Called when the store drops the log: its pooled buffers go back to the pool now, or when
    /// the last reader still holding event text closes.
    /// </summary>
    public void Release()
    {
        lock (_gate)
        {
            _released = true;
            if (_readers.Count == 0)
            {
                ReturnBuffersLocked();
            }
        }
    }

    private void ReturnBuffersLocked()
    {
        if (_returned)
        {
            return;
        }

        _returned = true;
        if (_records.Length > 0)
        {
            ArrayPool<StreamEventRecord>.Shared.Return(_records, clearArray: true);
            _records = [];
        }

        if (_segments is not null)
        {
            foreach (var segment in _segments)
            {
                ArrayPool<byte>.Shared.Return(segment);
            }

            _segments = null;
        }

        _segment = [];
    }

    private void OnGraceExpired()
    {
        lock (_gate)
        {
            if (_readers.Count > 0 || _state != StreamState.Running)
            {
                return;
            }

            _graceTimer?.Dispose();
            _graceTimer = null;
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

            _segment = ArrayPool<byte>.Shared.Rent(size);
            (_segments ??= []).Add(_segment);
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
        _store.ForceCharge(MemoryStreamStore.EventOverheadBytes);
        _chargedBytes += MemoryStreamStore.EventOverheadBytes;
        AppendLocked(record);
    }

    private void AppendLocked(in StreamEventRecord record)
    {
        var index = _count;
        if (index == _records.Length)
        {
            var grown = ArrayPool<StreamEventRecord>.Shared.Rent(Math.Max(FirstRecordCapacity, _records.Length * 2));
            _records.AsSpan().CopyTo(grown);
            if (_records.Length > 0)
            {
                ArrayPool<StreamEventRecord>.Shared.Return(_records, clearArray: true);
            }

            _records = grown;
        }

        _records[index] = record;
        _count = index + 1;

        foreach (var reader in _readers)
        {
            reader.Signal();
        }
    }

    private void EndLocked()
    {
        _graceTimer?.Dispose();
        _graceTimer = null;
        Volatile.Write(ref _endedAt, Math.Max(1, _store.TimeProvider.GetTimestamp()));
    }
}
