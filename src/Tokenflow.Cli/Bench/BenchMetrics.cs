using System.Collections.Concurrent;

namespace Tokenflow.Cli.Bench;

/// <summary>
/// Everything measured on one target, recorded from any number of workers at once: HDR histograms of the first
/// partial result, the gaps between partials, the time to the result and the cancel latency, and counters.
/// A "partial" is a token chunk on the HTTP doors and a progress notification on MCP.
/// </summary>
internal sealed class BenchMetrics
{
    private readonly ConcurrentDictionary<string, int> _errors = new(StringComparer.Ordinal);
    private long _completed;
    private long _failed;
    private long _cancelled;
    private long _cancelUnconfirmed;
    private long _inFlight;
    private long _partials;
    private long _tokens;
    private long _lost;
    private long _countedCalls;

    /// <summary>From the request's start (closed loop) or its intended start (open loop) to the first partial.</summary>
    public LatencyHistogram FirstPartial { get; } = new();

    /// <summary>Between consecutive partials of one request.</summary>
    public LatencyHistogram Gap { get; } = new();

    /// <summary>From the (intended) start to the result of a request that ran to its end.</summary>
    public LatencyHistogram Result { get; } = new();

    /// <summary>From sending a cancel to the server's last byte of that request.</summary>
    public LatencyHistogram Cancel { get; } = new();

    public long Completed => Interlocked.Read(ref _completed);

    public long Failed => Interlocked.Read(ref _failed);

    public long Cancelled => Interlocked.Read(ref _cancelled);

    /// <summary>Cancels after which the server did not end the response within the wait, or whose end a client cannot see.</summary>
    public long CancelUnconfirmed => Interlocked.Read(ref _cancelUnconfirmed);

    public long InFlight => Interlocked.Read(ref _inFlight);

    /// <summary>Partials received, from every request, while they arrive.</summary>
    public long Partials => Interlocked.Read(ref _partials);

    /// <summary>Tokens of finished requests: the server's usage count when it reports one, else partials.</summary>
    public long Tokens => Interlocked.Read(ref _tokens);

    /// <summary>Progress notifications missing from a count the server reported (a jump in <c>progress</c>).</summary>
    public long Lost => Interlocked.Read(ref _lost);

    /// <summary>Whether any request's partials carried a count, so <see cref="Lost"/> means something.</summary>
    public bool LossMeasured => Interlocked.Read(ref _countedCalls) > 0;

    public IReadOnlyDictionary<string, int> Errors => _errors;

    public void Started() => Interlocked.Increment(ref _inFlight);

    public void Ended() => Interlocked.Decrement(ref _inFlight);

    public void AddPartials(int count) => Interlocked.Add(ref _partials, count);

    public void AddLost(long count) => Interlocked.Add(ref _lost, count);

    public void CountedCall() => Interlocked.Increment(ref _countedCalls);

    public void Complete(long tokens, bool countRequest = true)
    {
        if (countRequest)
        {
            Interlocked.Increment(ref _completed);
        }

        Interlocked.Add(ref _tokens, tokens);
    }

    public void CancelEnded(long tokens, long? latencyTicks, bool confirmed)
    {
        Interlocked.Increment(ref _cancelled);
        Interlocked.Add(ref _tokens, tokens);
        if (latencyTicks is { } ticks)
        {
            Cancel.RecordTicks(ticks);
        }

        if (!confirmed)
        {
            Interlocked.Increment(ref _cancelUnconfirmed);
        }
    }

    public void Fail(string kind)
    {
        Interlocked.Increment(ref _failed);
        _errors.AddOrUpdate(kind, 1, static (_, n) => n + 1);
    }
}
