using System.Threading.Tasks.Sources;

namespace Tokenflow.Core.Streams;

/// <summary>
/// A reader of a <see cref="MemoryStreamLog"/>. It holds only a position: the log is its buffer,
/// so a slow reader costs no memory of its own and never slows the writer. Waiting is a reusable
/// value-task source, so following a live stream allocates nothing per event.
/// </summary>
internal sealed class MemoryStreamReader : IStreamReader, IValueTaskSource<bool>, IThreadPoolWorkItem
{
    private readonly MemoryStreamLog _log;
    // Continuations never run on the writer's thread: Signal queues this reader as a thread-pool
    // work item (no allocation, unlike RunContinuationsAsynchronously) and completes it from there.
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = false };
    private long _next;
    private bool _finished;
    private int _waiting;
    private bool _cancelPending;
    private int _disposed;
    private CancellationToken _registeredToken;
    private CancellationTokenRegistration _registration;

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

            _core.Reset();
            Volatile.Write(ref _waiting, 1);
        }

        if (cancellationToken.CanBeCanceled && cancellationToken != _registeredToken)
        {
            // Register once per token (a response passes the same RequestAborted token every time).
            _registration.Dispose();
            _registeredToken = cancellationToken;
            _registration = cancellationToken.UnsafeRegister(static s => ((MemoryStreamReader)s!).CancelWait(), this);
        }

        return new ValueTask<bool>(this, _core.Version);
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
        if (Interlocked.Exchange(ref _waiting, 0) == 1)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    void IThreadPoolWorkItem.Execute()
    {
        if (_cancelPending)
        {
            _cancelPending = false;
            _core.SetException(new OperationCanceledException(_registeredToken));
        }
        else
        {
            _core.SetResult(true);
        }
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _registration.Dispose();
            _log.CloseReader(this);
        }

        return ValueTask.CompletedTask;
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);

    private void CancelWait()
    {
        if (Interlocked.Exchange(ref _waiting, 0) == 1)
        {
            _cancelPending = true;
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }
}
