using System.Globalization;
using System.Net;
using System.Text;

namespace Tokenflow.Cli.Bench;

/// <summary>
/// Draws the latency distributions as a standalone SVG: two panels, the CDF of first-partial latency and the CDF of
/// gaps between partials, one line per target on a log-scaled time axis. Hand-written: a chart library would be
/// a dependency for two polylines.
/// </summary>
internal static class BenchSvg
{
    private const int PanelWidth = 420;
    private const int PanelHeight = 260;
    private const int Left = 56;
    private const int Top = 40;
    private const int Bottom = 44;
    private static readonly string[] Colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

    public static string Render(IReadOnlyList<BenchResult> results)
    {
        var c = CultureInfo.InvariantCulture;
        var legendHeight = 18 * results.Count + 10;
        var width = (2 * (Left + PanelWidth)) + 60;
        var height = Top + PanelHeight + Bottom + legendHeight;
        var s = new StringBuilder();
        s.AppendLine(c, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">""");
        s.AppendLine(c, $"""<rect width="{width}" height="{height}" fill="white"/>""");
        Panel(s, results, 0, "first partial latency (ms)", m => m.FirstPartial);
        Panel(s, results, Left + PanelWidth + 30, "gap between partials (ms)", m => m.Gap);
        for (var i = 0; i < results.Count; i++)
        {
            var y = Top + PanelHeight + Bottom + (18 * i) + 8;
            s.AppendLine(c, $"""<line x1="{Left}" y1="{y}" x2="{Left + 24}" y2="{y}" stroke="{Colors[i % Colors.Length]}" stroke-width="2.5"/>""");
            s.AppendLine(c, $"""<text x="{Left + 32}" y="{y + 4}">{WebUtility.HtmlEncode(results[i].Name)}</text>""");
        }

        s.AppendLine("</svg>");
        return s.ToString();
    }

    private static void Panel(StringBuilder s, IReadOnlyList<BenchResult> results, int x0, string title, Func<BenchMetrics, LatencyHistogram> pick)
    {
        var c = CultureInfo.InvariantCulture;
        var curves = results.Select(r => pick(r.Metrics).Cdf()).ToList();
        var values = curves.SelectMany(p => p).Select(p => p.Ms).Where(v => v > 0).ToList();
        var lo = values.Count == 0 ? 0.01 : Math.Pow(10, Math.Floor(Math.Log10(values.Min())));
        var hi = values.Count == 0 ? 1000 : Math.Pow(10, Math.Ceiling(Math.Log10(values.Max())));
        if (hi <= lo)
        {
            hi = lo * 10;
        }

        var left = x0 + Left;
        double X(double ms) => left + (PanelWidth * (Math.Log10(Math.Max(ms, lo)) - Math.Log10(lo)) / (Math.Log10(hi) - Math.Log10(lo)));
        double Y(double fraction) => Top + (PanelHeight * (1 - fraction));

        s.AppendLine(c, $"""<text x="{left + (PanelWidth / 2)}" y="{Top - 16}" text-anchor="middle" font-weight="bold">CDF of {WebUtility.HtmlEncode(title)}</text>""");
        s.AppendLine(c, $"""<rect x="{left}" y="{Top}" width="{PanelWidth}" height="{PanelHeight}" fill="none" stroke="#888"/>""");
        for (var decade = lo; decade <= hi * 1.0001; decade *= 10)
        {
            var x = X(decade);
            s.AppendLine(c, $"""<line x1="{x:0.#}" y1="{Top}" x2="{x:0.#}" y2="{Top + PanelHeight}" stroke="#ddd"/>""");
            s.AppendLine(c, $"""<text x="{x:0.#}" y="{Top + PanelHeight + 16}" text-anchor="middle">{decade.ToString("0.######", c)}</text>""");
        }

        foreach (var f in new[] { 0.0, 0.25, 0.5, 0.75, 0.9, 1.0 })
        {
            var y = Y(f);
            s.AppendLine(c, $"""<line x1="{left}" y1="{y:0.#}" x2="{left + PanelWidth}" y2="{y:0.#}" stroke="#eee"/>""");
            s.AppendLine(c, $"""<text x="{left - 6}" y="{y + 4:0.#}" text-anchor="end">{f.ToString("0.##", c)}</text>""");
        }

        s.AppendLine(c, $"""<text x="{left + (PanelWidth / 2)}" y="{Top + PanelHeight + 34}" text-anchor="middle">{WebUtility.HtmlEncode(title)}, log scale</text>""");
        for (var i = 0; i < curves.Count; i++)
        {
            if (curves[i].Count == 0)
            {
                continue;
            }

            // A step line: the fraction jumps at each bucket's value.
            var points = new StringBuilder();
            var previous = 0.0;
            foreach (var (ms, fraction) in curves[i])
            {
                var x = X(ms);
                points.Append(c, $"{x:0.##},{Y(previous):0.##} {x:0.##},{Y(fraction):0.##} ");
                previous = fraction;
            }

            s.AppendLine(c, $"""<polyline fill="none" stroke="{Colors[i % Colors.Length]}" stroke-width="2" points="{points.ToString().TrimEnd()}"/>""");
        }
    }
}
