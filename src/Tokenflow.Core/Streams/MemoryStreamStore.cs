using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace Tokenflow.Core.Streams;

/// <summary>
/// The default stream store: every log in this process' memory, bounded by
/// <see cref="StreamStoreOptions"/>. Finished streams stay readable for the TTL, then are swept.
/// When the memory budget is exhausted, finished streams are evicted oldest first; if that is not
/// enough, new streams are refused (<see cref="StreamCreateStatus.Full"/>) and running ones that
/// keep growing end with an error event — memory never grows past the budget.
/// </summary>
public sealed class MemoryStreamStore : IStreamStore, IStreamLogHost, IDisposable
{
    private readonly ConcurrentDictionary<string, StreamLog> _logs = new(StringComparer.Ordinal);

    // Finished logs in the order they ended, which is also the order they expire: sweeping and
    // making room take from the front without scanning or sorting every log.
    private readonly ConcurrentQueue<StreamLog> _ended = new();
    private readonly ITimer _sweeper;
    private readonly StreamBudget _budget;
    private readonly StreamLogSettings _settings;
    private int _running;

    /// <summary>Creates the store.</summary>
    public MemoryStreamStore(IOptions<StreamStoreOptions> options, TimeProvider timeProvider)
    {
        Options = options.Value;
        TimeProvider = timeProvider;
        _budget = new StreamBudget(Options.MaxBytes);
        Diagnostics.TokenflowTelemetry.RegisterStoreBytes(this, () => _budget.BytesInUse);
        _settings = new StreamLogSettings
        {
            TimeProvider = timeProvider,
            MaxEvents = Options.MaxEventsPerStream,
            ResumeGrace = Options.ResumeGrace,
            Retention = Options.Retention,
            Budget = _budget,
        };
        _sweeper = timeProvider.CreateTimer(static s => ((MemoryStreamStore)s!).Sweep(), this, Options.SweepInterval, Options.SweepInterval);
    }

    private StreamStoreOptions Options { get; }

    private TimeProvider TimeProvider { get; }

    /// <summary>Bytes currently charged to logs (for tests and metrics).</summary>
    public long BytesInUse => _budget.BytesInUse;

    /// <summary>Streams currently running.</summary>
    public int RunningStreams => Volatile.Read(ref _running);

    /// <summary>Streams currently held (running or finished, not yet expired).</summary>
    public int StreamCount => _logs.Count;

    /// <inheritdoc />
    public ValueTask<(StreamCreateStatus Status, IStreamWriter? Writer)> CreateAsync(StreamDescriptor descriptor, CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _running) > Options.MaxRunningStreams || !EnsureRoom())
        {
            Interlocked.Decrement(ref _running);
            return new((StreamCreateStatus.Full, null));
        }

        var log = new StreamLog(descriptor, _settings, this);
        if (!_logs.TryAdd(descriptor.Id, log))
        {
            Interlocked.Decrement(ref _running);
            return new((StreamCreateStatus.Exists, null));
        }

        return new((StreamCreateStatus.Created, log));
    }

    /// <inheritdoc />
    public ValueTask<(StreamOpenStatus Status, IStreamReader? Reader)> OpenReaderAsync(string streamId, long afterSeq, CancellationToken cancellationToken)
    {
        if (!TryGetLive(streamId, out var log))
        {
            return new((StreamOpenStatus.NotFound, null));
        }

        var reader = log.OpenReader(afterSeq, out var status);
        return new((status, reader));
    }

    /// <inheritdoc />
    public ValueTask<StreamStatus?> GetStatusAsync(string streamId, CancellationToken cancellationToken)
        => new(TryGetLive(streamId, out var log) ? log.GetStatus() : null);

    /// <inheritdoc />
    public ValueTask<StreamDescriptor?> GetDescriptorAsync(string streamId, CancellationToken cancellationToken)
        => new(TryGetLive(streamId, out var log) ? log.Descriptor : null);

    /// <inheritdoc />
    public ValueTask<bool> CancelAsync(string streamId, CancellationToken cancellationToken)
    {
        if (!TryGetLive(streamId, out var log))
        {
            return new(false);
        }

        log.RequestStop();
        return new(true);
    }

    /// <summary>Stops the sweeper.</summary>
    public void Dispose() => _sweeper.Dispose();

    void IStreamLogHost.OnEnded(StreamLog log)
    {
        Interlocked.Decrement(ref _running);
        _ended.Enqueue(log);
    }

    private bool TryGetLive(string streamId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out StreamLog? log)
    {
        if (!_logs.TryGetValue(streamId, out log))
        {
            return false;
        }

        if (IsExpired(log, TimeProvider.GetTimestamp()))
        {
            Evict(log);
            log = null;
            return false;
        }

        return true;
    }

    /// <summary>
    /// Makes room for a new stream: at 90% of the budget, evict finished streams oldest first
    /// (expired or not) down to 75%, so the next creations do not pay for eviction again.
    /// </summary>
    private bool EnsureRoom()
    {
        var limit = Options.MaxBytes;
        if (_budget.BytesInUse < limit * 9 / 10)
        {
            return true;
        }

        lock (_ended)
        {
            while (_budget.BytesInUse >= limit * 3 / 4 && _ended.TryDequeue(out var log))
            {
                Evict(log);
            }
        }

        return _budget.BytesInUse < limit;
    }

    private void Sweep()
    {
        var now = TimeProvider.GetTimestamp();
        lock (_ended)
        {
            while (_ended.TryPeek(out var log) && (IsExpired(log, now) || !_logs.ContainsKey(log.Descriptor.Id)))
            {
                _ended.TryDequeue(out _);
                Evict(log);
            }
        }
    }

    private bool IsExpired(StreamLog log, long now)
    {
        var ended = log.EndedAt;
        return ended != 0 && TimeProvider.GetElapsedTime(ended, now) >= Options.CompletedTtl;
    }

    private void Evict(StreamLog log)
    {
        if (_logs.TryRemove(new KeyValuePair<string, StreamLog>(log.Descriptor.Id, log)))
        {
            log.Release();
        }
    }
}
