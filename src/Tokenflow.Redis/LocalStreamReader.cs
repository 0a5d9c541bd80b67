using System.Threading.Tasks.Sources;
using Tokenflow.Core.Streams;

namespace Tokenflow.Redis;

/// <summary>
/// A reader in the process that writes the stream: it reads the writer's in-memory log up to the
/// seq Redis has acknowledged, with no Redis round trip. Like the memory store's reader it holds
/// only a position and waits on a reusable value-task source, so following a live stream
/// allocates nothing per event. If the stream is lost (Redis failed) it ends with an error event.
/// </summary>
internal sealed class LocalStreamReader : IStreamReader, IValueTaskSource<bool>, IThreadPoolWorkItem
{
    private readonly RedisStreamWriter _writer;
    // Continuations never run on the send loop's thread: Signal queues this reader as a work item.
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = false };
    private long _next;
    private bool _finished;
    private int _waiting;
    private bool _cancelPending;
    private int _disposed;
    private CancellationToken _registeredToken;
    private CancellationTokenRegistration _registration;

    public LocalStreamReader(RedisStreamWriter writer, long next)
    {
        _writer = writer;
        _next = next;
    }

    public string StreamId => _writer.StreamId;

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

        lock (_writer.Gate)
        {
            if (_next <= _writer.Acked || _writer.Lost is not null)
            {
                return new(true);
            }

            if (_writer.HasEnded && _next > _writer.Count)
            {
                // Positioned past the terminal event: nothing more will come.
                _finished = true;
                return new(false);
            }

            _core.Reset();
            Volatile.Write(ref _waiting, 1);
        }

        if (cancellationToken.CanBeCanceled && cancellationToken != _registeredToken)
        {
            _registration.Dispose();
            _registeredToken = cancellationToken;
            _registration = cancellationToken.UnsafeRegister(static s => ((LocalStreamReader)s!).CancelWait(), this);
        }

        return new ValueTask<bool>(this, _core.Version);
    }

    public bool TryRead(out StreamEvent streamEvent)
    {
        lock (_writer.Gate)
        {
            if (_finished)
            {
                streamEvent = default;
                return false;
            }

            if (_next <= _writer.Acked)
            {
                streamEvent = _writer.ReadLocked(_next++);
            }
            else if (_writer.Lost is not null)
            {
                streamEvent = _writer.LostEventLocked(_next++);
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

    public void Interrupt() => Signal();

    /// <summary>Completes a pending wait; called by the writer when Redis acknowledges a batch, and by <see cref="Interrupt"/>.</summary>
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
            _writer.CloseReader(this);
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
