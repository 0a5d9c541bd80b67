using System.Diagnostics;
using Tokenflow.Cli.Bench;

namespace Tokenflow.Cli.Tests.Bench;

public sealed class LatencyHistogramTests
{
    [Fact]
    public void Percentiles_are_within_one_percent_of_the_exact_values()
    {
        var histogram = new LatencyHistogram();
        var random = new Random(3);
        var samples = Enumerable.Range(0, 100_000).Select(_ => (long)(Math.Exp(random.NextDouble() * 16) * 100)).ToArray();
        foreach (var ns in samples)
        {
            histogram.RecordTicks(ns * Stopwatch.Frequency / 1_000_000_000);
        }

        Array.Sort(samples);
        foreach (var p in new[] { 50.0, 90, 99, 99.9 })
        {
            var exact = samples[(int)Math.Ceiling(p / 100 * samples.Length) - 1] / 1e6;
            Assert.InRange(histogram.PercentileMs(p), exact * 0.99, exact * 1.01);
        }

        Assert.Equal(samples[^1] / 1e6, histogram.MaxMs, 6);
        Assert.Equal(samples.Length, histogram.Count);
    }

    [Fact]
    public void Every_bucket_index_round_trips_to_a_value_inside_it()
    {
        for (long v = 0; v < 1L << 40; v = (v * 17 / 16) + 1)
        {
            var index = LatencyHistogram.Index(v);
            var mid = LatencyHistogram.Midpoint(index);
            Assert.Equal(index, LatencyHistogram.Index(mid));
            Assert.True(Math.Abs(mid - v) <= Math.Max(1, v / 128.0), $"{v} → {mid}");
        }
    }
}
