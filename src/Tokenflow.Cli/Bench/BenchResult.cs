using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Tokenflow.Cli.Bench;

/// <summary>A finished benchmark: counts, latencies, errors; printed as a table or as JSON.</summary>
internal sealed class BenchResult
{
    public required BenchSettings Settings { get; init; }

    public TimeSpan Elapsed { get; init; }

    public long Completed { get; init; }

    public long Failed { get; init; }

    /// <summary>Tokens of completed requests (the server's <c>completion_tokens</c> when it reports usage).</summary>
    public long Tokens { get; init; }

    public required LatencyHistogram TimeToFirstToken { get; init; }

    public required LatencyHistogram InterToken { get; init; }

    public required IReadOnlyDictionary<string, int> Errors { get; init; }

    /// <summary>True when Ctrl-C ended the run early.</summary>
    public bool Stopped { get; init; }

    public double TokensPerSecond => Tokens / Math.Max(Elapsed.TotalSeconds, 1e-9);

    public double RequestsPerSecond => Completed / Math.Max(Elapsed.TotalSeconds, 1e-9);

    public string ToTable()
    {
        var c = CultureInfo.InvariantCulture;
        var s = new StringBuilder();
        s.AppendLine(c, $"tokenflow bench: {Settings.Endpoint} · model {Settings.Model} · concurrency {Settings.Concurrency} · max_tokens {Settings.MaxTokens}{(Stopped ? " · stopped early" : string.Empty)}");
        s.AppendLine(c, $"requests   {Completed:N0} ok, {Failed:N0} failed in {Elapsed.TotalSeconds:0.00} s ({RequestsPerSecond:N1} req/s)");
        s.AppendLine(c, $"tokens     {Tokens:N0} ({TokensPerSecond:N0} tokens/s)");
        s.AppendLine();
        s.AppendLine(c, $"{"latency (ms)",-14}{"p50",10}{"p90",10}{"p99",10}{"max",10}{"mean",10}");
        Row(s, "TTFT", TimeToFirstToken);
        Row(s, "inter-token", InterToken);
        if (Errors.Count > 0)
        {
            s.AppendLine();
            s.AppendLine("errors     " + string.Join(", ", Errors.Select(e => $"{e.Key} × {e.Value}")));
        }

        return s.ToString();
    }

    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("url", Settings.Endpoint.ToString());
            w.WriteString("model", Settings.Model);
            w.WriteNumber("concurrency", Settings.Concurrency);
            w.WriteNumber("max_tokens", Settings.MaxTokens);
            w.WriteNumber("duration_s", Math.Round(Elapsed.TotalSeconds, 3));
            w.WriteBoolean("stopped_early", Stopped);
            w.WriteStartObject("requests");
            w.WriteNumber("completed", Completed);
            w.WriteNumber("failed", Failed);
            w.WriteNumber("per_second", Math.Round(RequestsPerSecond, 2));
            w.WriteEndObject();
            w.WriteNumber("tokens", Tokens);
            w.WriteNumber("tokens_per_second", Math.Round(TokensPerSecond, 1));
            Latency(w, "ttft_ms", TimeToFirstToken);
            Latency(w, "itl_ms", InterToken);
            w.WriteStartObject("errors");
            foreach (var (kind, count) in Errors)
            {
                w.WriteNumber(kind, count);
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static void Row(StringBuilder s, string name, LatencyHistogram h)
        => s.AppendLine(CultureInfo.InvariantCulture, $"{name,-14}{Ms(h.PercentileMs(50)),10}{Ms(h.PercentileMs(90)),10}{Ms(h.PercentileMs(99)),10}{Ms(h.MaxMs),10}{Ms(h.MeanMs),10}");

    private static string Ms(double ms) => ms.ToString(ms >= 100 ? "0" : ms >= 10 ? "0.0" : ms >= 1 ? "0.00" : "0.000", CultureInfo.InvariantCulture);

    private static void Latency(Utf8JsonWriter w, string name, LatencyHistogram h)
    {
        w.WriteStartObject(name);
        w.WriteNumber("samples", h.Count);
        w.WriteNumber("p50", Math.Round(h.PercentileMs(50), 4));
        w.WriteNumber("p90", Math.Round(h.PercentileMs(90), 4));
        w.WriteNumber("p99", Math.Round(h.PercentileMs(99), 4));
        w.WriteNumber("max", Math.Round(h.MaxMs, 4));
        w.WriteNumber("mean", Math.Round(h.MeanMs, 4));
        w.WriteEndObject();
    }
}
