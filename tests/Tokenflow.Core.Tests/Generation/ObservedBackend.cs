using System.Runtime.CompilerServices;
using Tokenflow.Core.Backends;

namespace Tokenflow.Core.Tests.Generation;

/// <summary>
/// Wraps a real backend and watches it from outside: counts the pieces it hands to the generation,
/// observes when the enumeration is disposed, and can crash after a given number of pieces.
/// </summary>
internal sealed class ObservedBackend : IModelBackend
{
    private readonly IModelBackend _inner;
    private readonly int _throwAfter;
    private readonly Lock _gate = new();
    private readonly List<(int Count, TaskCompletionSource Reached)> _waiters = [];
    private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _produced;

    public ObservedBackend(IModelBackend inner, int throwAfter = int.MaxValue)
    {
        _inner = inner;
        _throwAfter = throwAfter;
    }

    /// <summary>Pieces handed to the generation so far.</summary>
    public int Produced
    {
        get
        {
            lock (_gate)
            {
                return _produced;
            }
        }
    }

    /// <summary>Completes when the generation has disposed the enumeration (normally or not).</summary>
    public Task Disposed => _disposed.Task;

    /// <summary>Completes once at least <paramref name="count"/> pieces have been handed out.</summary>
    public Task WhenProducedAsync(int count)
    {
        lock (_gate)
        {
            if (_produced >= count)
            {
                return Task.CompletedTask;
            }

            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, reached));
            return reached.Task;
        }
    }

    public async IAsyncEnumerable<TokenPiece> GenerateAsync(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var piece in _inner.GenerateAsync(request, cancellationToken).WithCancellation(cancellationToken))
            {
                if (Produced == _throwAfter)
                {
                    throw new InvalidOperationException("The model crashed.");
                }

                OnProduced();
                yield return piece;
            }
        }
        finally
        {
            _disposed.TrySetResult();
        }
    }

    private void OnProduced()
    {
        lock (_gate)
        {
            _produced++;
            foreach (var waiter in _waiters.Where(w => w.Count <= _produced).ToList())
            {
                waiter.Reached.TrySetResult();
                _waiters.Remove(waiter);
            }
        }
    }
}
