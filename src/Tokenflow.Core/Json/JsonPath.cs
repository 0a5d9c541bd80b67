using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Tokenflow.Core.Json;

/// <summary>
/// A path to one value of a JSON document, in the JSONPath subset that names a single value:
/// <c>$</c>, <c>.name</c>, <c>['name']</c> / <c>["name"]</c> and <c>[index]</c> — e.g. <c>$.answer.items[0]</c>.
/// Used by watches (<c>json_path</c>) to fire when that value is complete. Immutable.
/// </summary>
public sealed class JsonPath
{
    private JsonPath(string text, IReadOnlyList<JsonPathSegment> segments)
    {
        Text = text;
        Segments = segments;
    }

    /// <summary>The path as written.</summary>
    public string Text { get; }

    /// <summary>The member names and array indexes from the root, in order.</summary>
    public IReadOnlyList<JsonPathSegment> Segments { get; }

    /// <summary>Parses <paramref name="text"/>; false (with a reason) when it is not in the supported subset.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out JsonPath? path, [NotNullWhen(false)] out string? error)
    {
        path = null;
        error = null;
        if (string.IsNullOrEmpty(text) || text[0] != '$')
        {
            error = "A JSON path starts with '$'.";
            return false;
        }

        var segments = new List<JsonPathSegment>();
        var i = 1;
        while (i < text.Length)
        {
            if (text[i] == '.')
            {
                var start = ++i;
                while (i < text.Length && text[i] is not ('.' or '['))
                {
                    i++;
                }

                if (i == start)
                {
                    error = $"Empty member name at position {start} of '{text}'.";
                    return false;
                }

                segments.Add(JsonPathSegment.Member(text[start..i]));
            }
            else if (text[i] == '[' && i + 1 < text.Length && text[i + 1] is '\'' or '"')
            {
                var quote = text[i + 1];
                var end = text.IndexOf(quote, i + 2);
                if (end < 0 || end + 1 >= text.Length || text[end + 1] != ']')
                {
                    error = $"Unclosed member name at position {i} of '{text}'.";
                    return false;
                }

                segments.Add(JsonPathSegment.Member(text[(i + 2)..end]));
                i = end + 2;
            }
            else if (text[i] == '[')
            {
                var end = text.IndexOf(']', i);
                if (end < 0 || !int.TryParse(text.AsSpan(i + 1, end - i - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                {
                    error = $"Expected an array index like [0] at position {i} of '{text}' (wildcards, slices and filters are not supported).";
                    return false;
                }

                segments.Add(JsonPathSegment.Element(index));
                i = end + 1;
            }
            else
            {
                error = $"Unexpected '{text[i]}' at position {i} of '{text}'.";
                return false;
            }
        }

        path = new JsonPath(text, segments);
        return true;
    }

    /// <inheritdoc />
    public override string ToString() => Text;
}
