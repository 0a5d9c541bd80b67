using System.Diagnostics;

namespace Tokenflow.Cli.Bench;

/// <summary>
/// Times one request: its partials (first one, gaps), the counts they report (for lost notifications) and how it
/// ended, into the target's <see cref="BenchMetrics"/>. Partials may come from another thread than the request's.
/// Partials that arrive after a cancel was sent are not timed as gaps: they are the cancel's tail.
/// </summary>
internal sealed class CallObserver
{
    private readonly BenchMetrics _metrics;
    private readonly int _cancelAfter;
    private readonly Lock _gate = new();
    private long _start;
    private long _last;
    private int _partials;
    private double _progress;
    private bool _counted;
    private long _progressSeen;
    private bool _unsettled;
    private int _unsettledTokens;
    private long _cancelSent;

    public CallObserver(BenchMetrics metrics, int? cancelAfter)
    {
        _metrics = metrics;
        _cancelAfter = cancelAfter ?? 0;
    }

    /// <summary>Partials of this request so far.</summary>
    public int Partials => Volatile.Read(ref _partials);

    /// <summary>When the request started (or was meant to), in <see cref="Stopwatch"/> ticks.</summary>
    public long Start => _start;

    /// <summary>When the cancel was sent; 0 while none was.</summary>
    public long CancelSent => _cancelSent;

    /// <summary>True once the request has had the partials after which it is to be cancelled.</summary>
    public bool CancelDue => _cancelAfter > 0 && _cancelSent == 0 && Partials >= _cancelAfter;

    public void Begin(long start)
    {
        _start = start;
        _last = 0;
        _partials = 0;
        _progress = 0;
        _counted = false;
        _progressSeen = 0;
        _cancelSent = 0;
        _metrics.Started();
    }

    /// <summary><paramref name="count"/> partials that arrived together at <paramref name="now"/>.</summary>
    public void OnPartials(long now, int count)
    {
        if (count <= 0 || Volatile.Read(ref _cancelSent) != 0)
        {
            return;
        }

        // Partials that arrived in one read share its timestamp: the first measures the gap, the rest are 0.
        if (_partials == 0)
        {
            _metrics.FirstPartial.RecordTicks(now - _start);
        }
        else
        {
            _metrics.Gap.RecordTicks(now - _last);
        }

        _metrics.Gap.RecordTicks(0, count - 1);
        _last = now;
        Volatile.Write(ref _partials, _partials + count);
        _metrics.AddPartials(count);
    }

    /// <summary>A progress notification; <paramref name="progress"/> is the count the server reports, if whole.</summary>
    public void OnProgress(long now, double progress)
    {
        // The SDK may hand notifications to handlers concurrently: one at a time here, and loss is judged from the
        // highest count against the number seen, so order does not matter.
        lock (_gate)
        {
            // Tokenflow's progress counts pieces so far (as the MCP spec has progress increase with each notification):
            // a highest count above the notifications seen means some never arrived. Counted after a cancel too —
            // handlers the SDK started before it may run after it — but not timed.
            if (progress == Math.Floor(progress) && progress >= 1)
            {
                _counted = true;
                _progressSeen++;
                _progress = Math.Max(_progress, progress);
            }

            if (_cancelSent == 0)
            {
                OnPartials(now, 1);
            }
        }
    }

    public void OnCancelSent(long now)
    {
        lock (_gate)
        {
            _cancelSent = now;
        }
    }

    /// <summary>
    /// The result arrived. Tokens and losses are settled when the next request begins (or the run ends): the MCP SDK
    /// may hand a call's last notifications to handlers after its result, and they still belong to this call.
    /// </summary>
    public void Completed(long now, int usageTokens)
    {
        _metrics.Result.RecordTicks(now - _start);
        _metrics.Complete(0);
        _unsettledTokens = usageTokens;
        _unsettled = true;
        _metrics.Ended();
    }

    /// <summary>Counts the finished request's tokens and lost notifications (call once after the last request too).</summary>
    public void Settle()
    {
        lock (_gate)
        {
            if (!_unsettled)
            {
                return;
            }

            _unsettled = false;
            _metrics.Complete(_unsettledTokens >= 0 ? _unsettledTokens : _partials, countRequest: false);
        }

        CountLost();
    }

    /// <summary>
    /// The cancelled request is over: the server's last byte came at <paramref name="lastByte"/> (null: not seen);
    /// <paramref name="confirmed"/> says whether the server ended the response within the wait.
    /// </summary>
    public void CancelEnded(long? lastByte, bool confirmed)
    {
        CountLost();
        _metrics.CancelEnded(Partials, lastByte is { } end ? Math.Max(0, end - _cancelSent) : null, confirmed);
        _metrics.Ended();
    }

    public void Failed(string kind)
    {
        _metrics.Fail(kind);
        _metrics.Ended();
    }

    private void CountLost()
    {
        lock (_gate)
        {
            if (_counted)
            {
                _metrics.CountedCall();
                _metrics.AddLost(Math.Max(0, (long)_progress - _progressSeen));
            }
        }
    }

    /// <summary>Ctrl-C ended the request: not counted either way.</summary>
    public void Stopped() => _metrics.Ended();
}
