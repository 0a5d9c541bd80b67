using System.Globalization;

namespace Tokenflow.Server.Tests.Operations;

/// <summary>Reads samples out of a Prometheus text exposition.</summary>
internal static class PrometheusText
{
    /// <summary>The sum of the samples named <paramref name="name"/> whose labels contain every one of <paramref name="labels"/> (<c>key="value"</c>); null when there is none.</summary>
    public static double? Sum(string text, string name, params string[] labels)
    {
        double? total = null;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith('#') || !line.StartsWith(name, StringComparison.Ordinal))
            {
                continue;
            }

            var rest = line[name.Length..];
            if (rest.Length == 0 || (rest[0] != '{' && rest[0] != ' '))
            {
                continue;
            }

            var labelEnd = rest[0] == '{' ? rest.IndexOf('}', StringComparison.Ordinal) : 0;
            var labelText = labelEnd > 0 ? rest[..labelEnd] : string.Empty;
            if (labels.Any(l => !labelText.Contains(l, StringComparison.Ordinal)))
            {
                continue;
            }

            var value = rest[(labelEnd + 1)..].Trim().Split(' ')[0];
            total = (total ?? 0) + double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        return total;
    }
}
