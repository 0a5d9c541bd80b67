using System.Diagnostics;
using System.Numerics;

namespace Tokenflow.Cli.Bench;

/// <summary>
/// A log-linear histogram of durations in nanoseconds (HdrHistogram's layout: 128 linear sub-buckets per power
/// of two, so any percentile is within 0.8% of the true value) in a fixed 58 KB array. Recording is one
/// atomic increment, from any number of threads; nothing is stored per sample.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBucketBits = 7;
    private const int SubBuckets = 1 << SubBucketBits;
    private const int Linear = 2 * SubBuckets;

    private readonly long[] _counts = new long[Linear + ((63 - 8) * SubBuckets)];
    private long _count;
    private long _sum;
    private long _max;

    public long Count => Volatile.Read(ref _count);

    /// <summary>Records a duration given in <see cref="Stopwatch"/> ticks, <paramref name="times"/> times.</summary>
    public void RecordTicks(long ticks, int times = 1)
    {
        if (times <= 0)
        {
            return;
        }

        var ns = ticks <= 0 ? 0 : (long)(ticks * (1_000_000_000.0 / Stopwatch.Frequency));
        Interlocked.Add(ref _counts[Index(ns)], times);
        Interlocked.Add(ref _count, times);
        Interlocked.Add(ref _sum, ns * times);
        var max = Volatile.Read(ref _max);
        while (ns > max)
        {
            var seen = Interlocked.CompareExchange(ref _max, ns, max);
            if (seen == max)
            {
                break;
            }

            max = seen;
        }
    }

    /// <summary>The value at <paramref name="percentile"/> (0–100) in milliseconds; 0 when empty.</summary>
    public double PercentileMs(double percentile)
    {
        var count = Count;
        if (count == 0)
        {
            return 0;
        }

        var target = Math.Max(1, (long)Math.Ceiling(percentile / 100 * count));
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += Volatile.Read(ref _counts[i]);
            if (seen >= target)
            {
                return Math.Min(Midpoint(i), Volatile.Read(ref _max)) / 1e6;
            }
        }

        return MaxMs;
    }

    public double MaxMs => Volatile.Read(ref _max) / 1e6;

    /// <summary>
    /// The cumulative distribution, one point per non-empty bucket: (value in milliseconds, fraction of samples at
    /// or below it), in increasing order. For CDF charts.
    /// </summary>
    public IReadOnlyList<(double Ms, double Fraction)> Cdf()
    {
        var count = Count;
        var points = new List<(double, double)>();
        if (count == 0)
        {
            return points;
        }

        long seen = 0;
        var max = Volatile.Read(ref _max);
        for (var i = 0; i < _counts.Length; i++)
        {
            var n = Volatile.Read(ref _counts[i]);
            if (n > 0)
            {
                seen += n;
                points.Add((Math.Min(Midpoint(i), max) / 1e6, Math.Min(1, seen / (double)count)));
            }
        }

        return points;
    }

    public double MeanMs => Count == 0 ? 0 : Volatile.Read(ref _sum) / (double)Count / 1e6;

    internal static int Index(long ns)
    {
        if (ns < Linear)
        {
            return (int)ns;
        }

        var log2 = 63 - BitOperations.LeadingZeroCount((ulong)ns);
        var shift = log2 - SubBucketBits;
        var sub = (int)(ns >> shift) & (SubBuckets - 1);
        return Linear + ((log2 - 8) * SubBuckets) + sub;
    }

    internal static long Midpoint(int index)
    {
        if (index < Linear)
        {
            return index;
        }

        var log2 = ((index - Linear) / SubBuckets) + 8;
        var sub = (index - Linear) % SubBuckets;
        var shift = log2 - SubBucketBits;
        var lower = (long)(SubBuckets + sub) << shift;
        return lower + ((1L << shift) / 2);
    }
}
