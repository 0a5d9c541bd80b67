
namespace Tokenflow.Core.Streams;

/// <summary>
/// A reader of a <see cref="MemoryStreamLog"/>. It holds only a position: the log is its buffer,
/// so a slow reader costs no memory of its own and never slows the writer. Waiting is a reusable
/// value-task source, so following a live stream allocates nothing per event.
/// </summary>
internal sealed class MemoryStreamReader : IStreamReader
{
    private readonly MemoryStreamLog _log;
    private readonly ReaderSignal _signal = new();
    private long _next;
    private bool _finished;
    private int _disposed;

    public MemoryStreamReader(MemoryStreamLog log, long next)
    {
        _log = log;
        _next = next;
    }

    public string StreamId => _log.StreamId;

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
            if (_next <= _log.Count)
            {
                return new(true);
            }

            if (_log.HasEnded)
            {
                // Positioned at or past the terminal event (resuming from the last seq): nothing more will come.
                _finished = true;
                return new(false);
            }

            _signal.Arm();
        }

        return _signal.WaitAsync(cancellationToken);
    }

    public bool TryRead(out StreamEvent streamEvent)
    {
        lock (_log.Gate)
        {
            if (_finished || _next > _log.Count)
            {
                streamEvent = default;
                return false;
            }

            streamEvent = _log.ReadLocked(_next++);
        }

        if (streamEvent.IsTerminal)
        {
            _finished = true;
        }

        return true;
    }

    public void Interrupt() => Signal();

    public bool HasBuffered => !_finished && _next <= Volatile.Read(ref _log.CountField);

    /// <summary>Completes a pending wait; called by the log on append (under its lock) and by <see cref="Interrupt"/>.</summary>
    internal void Signal()
    {
        _signal.Signal();
    }


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
