using System.Diagnostics;

namespace Tokenflow.Cli.Bench;

/// <summary>
/// Drives one target under the load <see cref="BenchSettings"/> describes. Closed loop: <see cref="BenchSettings.Concurrency"/>
/// workers each send the next request when the last one ends. Open loop (<see cref="BenchSettings.Rate"/>): request k is
/// due at start + k / rate whatever happened before; the workers (at most <see cref="BenchSettings.Concurrency"/> in
/// flight) take requests in schedule order, and every latency is measured from the request's due time, not from when a
/// worker got to it — so time spent queued behind a slow server is counted (no coordinated omission, as in wrk2).
/// </summary>
internal sealed class BenchRunner
{
    private readonly BenchSettings _settings;
    private readonly BenchTargetSpec _spec;
    private long _issued;

    public BenchRunner(BenchSettings settings, BenchTargetSpec spec)
    {
        _settings = settings;
        _spec = spec;
    }

    public BenchMetrics Metrics { get; } = new();

    /// <summary>A snapshot for the progress line.</summary>
    public BenchProgress Progress(TimeSpan elapsed) => new(elapsed, Metrics.Completed + Metrics.Cancelled, Metrics.Failed, Metrics.InFlight, Metrics.Partials);

    /// <summary>Runs the benchmark; <paramref name="cancellationToken"/> stops it early (the result covers what ran).</summary>
    public async Task<BenchResult> RunAsync(Action<BenchProgress>? onProgress, TimeSpan progressInterval, CancellationToken cancellationToken)
    {
        await using var target = BenchTarget.Create(_spec, _settings);
        var workers = new List<BenchWorker>();
        string? connectError = null;
        string? connectMessage = null;
        try
        {
            for (var i = 0; i < _settings.Concurrency; i++)
            {
                workers.Add(await target.ConnectAsync(cancellationToken).ConfigureAwait(false));
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            connectError = ex switch
            {
                HttpRequestException h => h.HttpRequestError == HttpRequestError.Unknown ? "connect_failed" : $"http_{h.HttpRequestError}",
                _ => "connect_failed",
            };
            connectMessage = ex.Message;
        }

        var start = Stopwatch.GetTimestamp();
        try
        {
            if (connectError is not null)
            {
                Metrics.Fail(connectError);
            }
            else
            {
                var deadline = _settings.Duration is { } duration ? start + (long)(duration.TotalSeconds * Stopwatch.Frequency) : long.MaxValue;
                var loops = workers.Select(w => Task.Run(() => LoopAsync(w, start, deadline, cancellationToken), CancellationToken.None)).ToArray();
                var all = Task.WhenAll(loops);
                if (onProgress is not null)
                {
                    using var timer = new PeriodicTimer(progressInterval);
                    while (!all.IsCompleted && await Task.WhenAny(all, timer.WaitForNextTickAsync(CancellationToken.None).AsTask()).ConfigureAwait(false) != all)
                    {
                        onProgress(Progress(Stopwatch.GetElapsedTime(start)));
                    }
                }

                await all.ConfigureAwait(false);
            }
        }
        finally
        {
            foreach (var worker in workers)
            {
                await worker.DisposeAsync().ConfigureAwait(false);
            }
        }

        var elapsed = Stopwatch.GetElapsedTime(start);
        onProgress?.Invoke(Progress(elapsed));
        return new BenchResult
        {
            Settings = _settings,
            Spec = _spec,
            Endpoint = target is SseTarget sse ? sse.Endpoint.ToString() : _spec.Address,
            Elapsed = elapsed,
            Metrics = Metrics,
            Stopped = cancellationToken.IsCancellationRequested,
            ConnectError = connectMessage,
        };
    }

    private async Task LoopAsync(BenchWorker worker, long start, long deadline, CancellationToken cancellationToken)
    {
        // One observer per request; the one before the running request is settled only when the next begins, since
        // its last notifications may still be on their way through the MCP SDK (see CallObserver.Completed).
        CallObserver? previous = null;
        CallObserver? current = null;
        var interval = _settings.Rate is { } rate ? Stopwatch.Frequency / rate : 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var k = Interlocked.Increment(ref _issued) - 1;
            if (_settings.Requests is { } limit && k >= limit)
            {
                break;
            }

            long due;
            if (interval > 0)
            {
                due = start + (long)(k * interval);
                if (due >= deadline)
                {
                    break;
                }

                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (wait > TimeSpan.Zero)
                {
                    try
                    {
                        await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
            }
            else
            {
                due = Stopwatch.GetTimestamp();
                if (due >= deadline)
                {
                    break;
                }
            }

            previous?.Settle();
            (previous, current) = (current, new CallObserver(Metrics, _settings.CancelAfter));
            current.Begin(due);
            await worker.CallAsync(current, cancellationToken).ConfigureAwait(false);
        }

        await worker.FinishAsync().ConfigureAwait(false);
        previous?.Settle();
        current?.Settle();
    }
}

/// <summary>Counters at one moment of a run.</summary>
internal readonly record struct BenchProgress(TimeSpan Elapsed, long Completed, long Failed, long InFlight, long Partials);
