using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Tokenflow.Cli.Bench;

/// <summary>One target's finished run: counts, latency distributions, errors.</summary>
internal sealed class BenchResult
{
    public required BenchSettings Settings { get; init; }

    public required BenchTargetSpec Spec { get; init; }

    /// <summary>Where requests went (the full endpoint URL, or the stdio command).</summary>
    public required string Endpoint { get; init; }

    public TimeSpan Elapsed { get; init; }

    public required BenchMetrics Metrics { get; init; }

    /// <summary>True when Ctrl-C ended the run early.</summary>
    public bool Stopped { get; init; }

    /// <summary>Why no worker could connect, if none could.</summary>
    public string? ConnectError { get; init; }

    public string Name => Spec.Label ?? $"{Spec.KindName} {Endpoint}";

    public double Seconds => Math.Max(Elapsed.TotalSeconds, 1e-9);

    public double PartialsPerSecond => Metrics.Partials / Seconds;

    public double TokensPerSecond => Metrics.Tokens / Seconds;

    public double RequestsPerSecond => (Metrics.Completed + Metrics.Cancelled) / Seconds;

    /// <summary>True when nothing succeeded and something failed (the exit code is then 1).</summary>
    public bool AllFailed => Metrics.Completed + Metrics.Cancelled == 0 && Metrics.Failed > 0;

    internal static string Ms(double ms) => ms.ToString(ms >= 100 ? "0" : ms >= 10 ? "0.0" : ms >= 1 ? "0.00" : "0.000", CultureInfo.InvariantCulture);

    public string ToTable()
    {
        var c = CultureInfo.InvariantCulture;
        var m = Metrics;
        var s = new StringBuilder();
        s.AppendLine(c, $"tokenflow bench: {Name} · {BenchReport.LoadText(Settings)}{(Stopped ? " · stopped early" : string.Empty)}");
        if (ConnectError is not null)
        {
            s.AppendLine(c, $"connect    failed: {ConnectError}");
        }

        s.AppendLine(c, $"requests   {m.Completed:N0} ok, {m.Failed:N0} failed{(m.Cancelled > 0 ? $", {m.Cancelled:N0} cancelled" : string.Empty)} in {Elapsed.TotalSeconds:0.00} s ({RequestsPerSecond:N1} req/s)");
        s.AppendLine(c, $"partials   {m.Partials:N0} ({PartialsPerSecond:N0}/s){(m.LossMeasured ? $", {m.Lost:N0} lost" : string.Empty)}");
        s.AppendLine(c, $"tokens     {m.Tokens:N0} ({TokensPerSecond:N0} tokens/s)");
        s.AppendLine();
        s.AppendLine(c, $"{"latency (ms)",-16}{"p50",9}{"p90",9}{"p99",9}{"p99.9",9}{"max",9}{"mean",9}");
        Row(s, "first partial", m.FirstPartial);
        Row(s, "gap", m.Gap);
        Row(s, "result", m.Result);
        if (m.Cancel.Count > 0 || m.Cancelled > 0)
        {
            Row(s, "cancel", m.Cancel);
        }

        if (m.CancelUnconfirmed > 0)
        {
            s.AppendLine(c, $"cancel     {m.CancelUnconfirmed:N0} not seen to end within {Settings.CancelWait.TotalSeconds:0.#} s");
        }

        if (m.Errors.Count > 0)
        {
            s.AppendLine();
            s.AppendLine("errors     " + string.Join(", ", m.Errors.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key} × {e.Value}")));
        }

        return s.ToString();
    }

    /// <summary>Writes this target's report object (the shape README documents).</summary>
    public void WriteJson(Utf8JsonWriter w, BenchResult? baseline)
    {
        var m = Metrics;
        w.WriteStartObject();
        w.WriteString("name", Name);
        w.WriteString("kind", Spec.KindName);
        w.WriteString("url", Endpoint);
        if (Spec.Kind is BenchTargetKind.Mcp or BenchTargetKind.McpStdio)
        {
            w.WriteString("tool", Settings.Tool);
        }
        else
        {
            w.WriteString("model", Settings.Model);
            w.WriteNumber("max_tokens", Settings.MaxTokens);
        }

        w.WriteNumber("duration_s", Math.Round(Elapsed.TotalSeconds, 3));
        w.WriteBoolean("stopped_early", Stopped);
        if (ConnectError is not null)
        {
            w.WriteString("connect_error", ConnectError);
        }

        w.WriteStartObject("requests");
        w.WriteNumber("completed", m.Completed);
        w.WriteNumber("failed", m.Failed);
        w.WriteNumber("cancelled", m.Cancelled);
        w.WriteNumber("per_second", Math.Round(RequestsPerSecond, 2));
        w.WriteEndObject();
        w.WriteNumber("partials", m.Partials);
        w.WriteNumber("partials_per_second", Math.Round(PartialsPerSecond, 1));
        w.WriteNumber("tokens", m.Tokens);
        w.WriteNumber("tokens_per_second", Math.Round(TokensPerSecond, 1));
        if (m.LossMeasured)
        {
            w.WriteNumber("lost", m.Lost);
        }
        else
        {
            w.WriteNull("lost");
        }

        Latency(w, "first_partial_ms", m.FirstPartial);
        Latency(w, "gap_ms", m.Gap);
        Latency(w, "result_ms", m.Result);
        Latency(w, "cancel_ms", m.Cancel);
        w.WriteNumber("cancel_unconfirmed", m.CancelUnconfirmed);
        w.WriteStartObject("errors");
        foreach (var (kind, count) in m.Errors.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            w.WriteNumber(kind, count);
        }

        w.WriteEndObject();
        if (baseline is not null)
        {
            w.WriteStartObject("ratio_to_first");
            Ratio(w, "first_partial_p50", m.FirstPartial.PercentileMs(50), baseline.Metrics.FirstPartial.PercentileMs(50));
            Ratio(w, "first_partial_p99", m.FirstPartial.PercentileMs(99), baseline.Metrics.FirstPartial.PercentileMs(99));
            Ratio(w, "gap_p50", m.Gap.PercentileMs(50), baseline.Metrics.Gap.PercentileMs(50));
            Ratio(w, "gap_p99", m.Gap.PercentileMs(99), baseline.Metrics.Gap.PercentileMs(99));
            Ratio(w, "result_p50", m.Result.PercentileMs(50), baseline.Metrics.Result.PercentileMs(50));
            Ratio(w, "partials_per_second", PartialsPerSecond, baseline.PartialsPerSecond);
            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    private static void Ratio(Utf8JsonWriter w, string name, double value, double first)
    {
        if (first > 0)
        {
            w.WriteNumber(name, Math.Round(value / first, 3));
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static void Row(StringBuilder s, string name, LatencyHistogram h)
        => s.AppendLine(CultureInfo.InvariantCulture, $"{name,-16}{Ms(h.PercentileMs(50)),9}{Ms(h.PercentileMs(90)),9}{Ms(h.PercentileMs(99)),9}{Ms(h.PercentileMs(99.9)),9}{Ms(h.MaxMs),9}{Ms(h.MeanMs),9}");

    private static void Latency(Utf8JsonWriter w, string name, LatencyHistogram h)
    {
        w.WriteStartObject(name);
        w.WriteNumber("samples", h.Count);
        w.WriteNumber("p50", Math.Round(h.PercentileMs(50), 4));
        w.WriteNumber("p90", Math.Round(h.PercentileMs(90), 4));
        w.WriteNumber("p99", Math.Round(h.PercentileMs(99), 4));
        w.WriteNumber("p99_9", Math.Round(h.PercentileMs(99.9), 4));
        w.WriteNumber("max", Math.Round(h.MaxMs, 4));
        w.WriteNumber("mean", Math.Round(h.MeanMs, 4));
        w.WriteEndObject();
    }
}
