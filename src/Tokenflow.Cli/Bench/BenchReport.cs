using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Tokenflow.Cli.Bench;

/// <summary>
/// The whole report over one or more targets: the table (targets side by side with ratios to the first when there
/// are several), the JSON document, and the SVG chart.
/// </summary>
internal static class BenchReport
{
    public static string LoadText(BenchSettings s)
    {
        var c = CultureInfo.InvariantCulture;
        var shape = s.Rate is { } rate ? string.Create(c, $"open loop {rate:0.##}/s, at most {s.Concurrency} in flight") : string.Create(c, $"closed loop, concurrency {s.Concurrency}");
        var size = s.Requests is { } n ? string.Create(c, $" · {n:N0} requests") : string.Empty;
        var time = s.Duration is { } d ? string.Create(c, $" · {d.TotalSeconds:0.###} s") : string.Empty;
        var cancel = s.CancelAfter is { } k ? string.Create(c, $" · cancel after {k}") : string.Empty;
        return shape + size + time + cancel;
    }

    public static string Table(IReadOnlyList<BenchResult> results)
    {
        if (results.Count == 1)
        {
            return results[0].ToTable();
        }

        var c = CultureInfo.InvariantCulture;
        var s = new StringBuilder();
        s.AppendLine(c, $"tokenflow bench --compare · {LoadText(results[0].Settings)}");
        for (var i = 0; i < results.Count; i++)
        {
            var where = results[i].Spec.Label is null ? string.Empty : $" ({results[i].Spec.KindName} {results[i].Endpoint})";
            s.AppendLine(c, $"  [{i + 1}] {results[i].Name}{where}");
        }

        s.AppendLine();
        const int Width = 20;
        s.Append($"{string.Empty,-22}");
        for (var i = 0; i < results.Count; i++)
        {
            s.Append(c, $"{"[" + (i + 1) + "]",Width}");
        }

        s.AppendLine();
        Line(s, results, "requests ok/failed", r => $"{r.Metrics.Completed + r.Metrics.Cancelled:N0}/{r.Metrics.Failed:N0}", null);
        Line(s, results, "partials/s", r => r.PartialsPerSecond.ToString("N0", c), r => r.PartialsPerSecond);
        Line(s, results, "lost", r => r.Metrics.LossMeasured ? r.Metrics.Lost.ToString("N0", c) : "n/a", null);
        foreach (var (label, pick) in new (string, Func<BenchMetrics, LatencyHistogram>)[] { ("first partial", m => m.FirstPartial), ("gap", m => m.Gap), ("result", m => m.Result), ("cancel", m => m.Cancel) })
        {
            if (results.All(r => pick(r.Metrics).Count == 0))
            {
                continue;
            }

            foreach (var p in new[] { 50.0, 99 })
            {
                Line(s, results, string.Create(c, $"{label} p{p:0} ms"), r => pick(r.Metrics).Count == 0 ? "–" : BenchResult.Ms(pick(r.Metrics).PercentileMs(p)), r => pick(r.Metrics).PercentileMs(p));
            }
        }

        if (results.Any(r => r.Metrics.Cancelled > 0))
        {
            Line(s, results, "cancel unconfirmed", r => r.Metrics.CancelUnconfirmed.ToString("N0", c), null);
        }

        if (results.Any(r => r.Metrics.Errors.Count > 0))
        {
            s.AppendLine();
            for (var i = 0; i < results.Count; i++)
            {
                if (results[i].Metrics.Errors.Count > 0)
                {
                    var kinds = string.Join(", ", results[i].Metrics.Errors.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key} × {e.Value}"));
                    s.AppendLine(c, $"errors [{i + 1}] {kinds}");
                }
            }
        }

        return s.ToString();

        static void Line(StringBuilder s, IReadOnlyList<BenchResult> results, string label, Func<BenchResult, string> text, Func<BenchResult, double>? value)
        {
            s.Append($"{label,-22}");
            for (var i = 0; i < results.Count; i++)
            {
                var cell = text(results[i]);
                if (i > 0 && value is not null && value(results[0]) > 0)
                {
                    cell += string.Create(CultureInfo.InvariantCulture, $" ({value(results[i]) / value(results[0]):0.00}x)");
                }

                s.Append($"{cell,Width}");
            }

            s.AppendLine();
        }
    }

    /// <summary>
    /// The JSON report: <c>{"load":{…},"targets":[{…}, …]}</c>, each target as <see cref="BenchResult.WriteJson"/>
    /// writes it (the second and later with <c>ratio_to_first</c>).
    /// </summary>
    public static string Json(IReadOnlyList<BenchResult> results)
    {
        var settings = results[0].Settings;
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteStartObject("load");
            w.WriteString("shape", settings.Rate is null ? "closed" : "open");
            w.WriteNumber("concurrency", settings.Concurrency);
            if (settings.Rate is { } rate)
            {
                w.WriteNumber("rate_per_second", rate);
            }
            else
            {
                w.WriteNull("rate_per_second");
            }

            if (settings.Requests is { } n)
            {
                w.WriteNumber("requests", n);
            }
            else
            {
                w.WriteNull("requests");
            }

            if (settings.Duration is { } d)
            {
                w.WriteNumber("duration_s", d.TotalSeconds);
            }
            else
            {
                w.WriteNull("duration_s");
            }

            if (settings.CancelAfter is { } k)
            {
                w.WriteNumber("cancel_after", k);
            }
            else
            {
                w.WriteNull("cancel_after");
            }

            w.WriteEndObject();
            w.WriteStartArray("targets");
            for (var i = 0; i < results.Count; i++)
            {
                results[i].WriteJson(w, i == 0 ? null : results[0]);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
