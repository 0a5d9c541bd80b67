using System.Threading.Tasks.Sources;

namespace Tokenflow.Core.Streams;

/// <summary>
/// The wait of one stream reader, reusable and allocation-free: the reader arms it (under its
/// log's lock, after finding nothing to read), awaits it, and the log's writer signals it on
/// append. Completion runs on the thread pool as an <see cref="IThreadPoolWorkItem"/> — never on the
/// writer's thread, and without the per-wake-up allocation of
/// <c>RunContinuationsAsynchronously</c>. Cancellation is registered once per token.
/// </summary>
internal sealed class ReaderSignal : IValueTaskSource<bool>, IThreadPoolWorkItem, IDisposable
{
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = false };
    private int _waiting;
    private int _interrupted;
    private bool _cancelPending;
    private CancellationToken _registeredToken;
    private CancellationTokenRegistration _registration;

    /// <summary>
    /// Arms a wait. Call under the lock that appends take, after checking nothing is readable. False when an
    /// <see cref="Interrupt"/> is pending: it is consumed, and the caller returns true without waiting.
    /// </summary>
    public bool TryArm()
    {
        if (Interlocked.Exchange(ref _interrupted, 0) == 1)
        {
            return false;
        }

        _core.Reset();
        // Full fences on both sides (here and in Interrupt): either the interrupter sees the armed wait and
        // completes it, or this sees the interrupt and disarms — a wake-up is never lost between the two.
        Interlocked.Exchange(ref _waiting, 1);
        if (Volatile.Read(ref _interrupted) == 1 && Interlocked.Exchange(ref _waiting, 0) == 1)
        {
            Interlocked.Exchange(ref _interrupted, 0);
            return false;
        }

        return true;
    }

    /// <summary>
    /// Wakes the armed wait with true, or — none armed — makes the next <see cref="TryArm"/> return false, so
    /// an interrupt that comes while its reader is between waits (a one-shot heartbeat timer) is not lost.
    /// May cause one extra wake-up with nothing to read, which readers' callers handle anyway. Thread-safe.
    /// </summary>
    public void Interrupt()
    {
        Interlocked.Exchange(ref _interrupted, 1);
        Signal();
    }

    /// <summary>The armed wait: true when signalled; throws <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> fires first.</summary>
    public ValueTask<bool> WaitAsync(CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled && cancellationToken != _registeredToken)
        {
            // Register once per token (a response passes the same RequestAborted token every time).
            _registration.Dispose();
            _registeredToken = cancellationToken;
            _registration = cancellationToken.UnsafeRegister(static s => ((ReaderSignal)s!).Cancel(), this);
        }

        return new ValueTask<bool>(this, _core.Version);
    }

    /// <summary>Completes an armed wait with true; a no-op when none is armed. Thread-safe.</summary>
    public void Signal()
    {
        if (Interlocked.Exchange(ref _waiting, 0) == 1)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    /// <summary>Drops the cancellation registration.</summary>
    public void Dispose() => _registration.Dispose();

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

    bool IValueTaskSource<bool>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);

    private void Cancel()
    {
        if (Interlocked.Exchange(ref _waiting, 0) == 1)
        {
            _cancelPending = true;
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }
}
