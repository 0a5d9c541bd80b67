namespace Tokenflow.Core.Streams;

/// <summary>
/// A reader of a <see cref="StreamLog"/>. It holds only a position: the log is its buffer, so a
/// slow reader costs no memory of its own and never slows the writer. It reads what the log has
/// committed (everything, unless the log is replicated); once a replicated log is lost it reads
/// the loss as a terminal error event. Waiting is a reusable value-task source, so following a
/// live stream allocates nothing per event.
/// </summary>
internal sealed class StreamLogReader : IStreamReader
{
    private readonly StreamLog _log;
    private readonly ReaderSignal _signal = new();
    private long _next;
    private bool _finished;
    private int _disposed;

    public StreamLogReader(StreamLog log, long next)
    {
        _log = log;
        _next = next;
    }

    public string StreamId => _log.StreamId;

    /// <summary>The next seq this reader reads. Read under the log's lock (retention).</summary>
    internal long NextLocked => _next;

    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken)
    {
        if (_finished)
        {
            return new(false);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        lock (_log.Gate)
        {
            if (_next <= _log.CommittedField || _log.LostLocked is not null)
            {
                return new(true);
            }

            if (_log.EndedLocked && _next > _log.CountLocked)
            {
                // Positioned past the terminal event (resuming from the last seq): nothing more will come.
                _finished = true;
                return new(false);
            }

            if (!_signal.TryArm())
            {
                return new(true);
            }
        }

        return _signal.WaitAsync(cancellationToken);
    }

    public bool TryRead(out StreamEvent streamEvent)
    {
        lock (_log.Gate)
        {
            if (_finished)
            {
                streamEvent = default;
                return false;
            }

            if (_next <= _log.CommittedField)
            {
                streamEvent = _log.ReadLocked(_next++);
            }
            else if (_log.LostLocked is not null)
            {
                streamEvent = _log.LostEventLocked(_next++);
            }
            else
            {
                streamEvent = default;
                return false;
            }
        }

        if (streamEvent.IsTerminal)
        {
            _finished = true;
        }

        return true;
    }

    public void Interrupt() => _signal.Interrupt();

    public bool HasBuffered => !_finished && _next <= Volatile.Read(ref _log.CommittedField);

    /// <summary>Completes a pending wait; called by the log on commit (under its lock) and by <see cref="Interrupt"/>.</summary>
    internal void Signal() => _signal.Signal();

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _signal.Dispose();
            _log.CloseReader(this);
        }

        return ValueTask.CompletedTask;
    }
}
