using Tokenflow.Core.Streams;

namespace Tokenflow.Redis;

/// <summary>
/// A reader in the process that writes the stream: it reads the writer's in-memory log up to the
/// seq Redis has acknowledged, with no Redis round trip. Like the memory store's reader it holds
/// only a position and waits on a <see cref="ReaderSignal"/>, so following a live stream
/// allocates nothing per event. If the stream is lost (Redis failed) it ends with an error event.
/// </summary>
internal sealed class LocalStreamReader : IStreamReader
{
    private readonly RedisStreamWriter _writer;
    private readonly ReaderSignal _signal = new();
    private long _next;
    private bool _finished;
    private int _disposed;

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

            _signal.Arm();
        }

        return _signal.WaitAsync(cancellationToken);
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
        _signal.Signal();
    }


    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _signal.Dispose();
            _writer.CloseReader(this);
        }

        return ValueTask.CompletedTask;
    }
}
