using System.Text.RegularExpressions;
using Tokenflow.Core.Json;

namespace Tokenflow.Core.Watches;

/// <summary>
/// A trigger on partial output (DESIGN.md "Watches"): fires once, the moment the answer text so far
/// matches <see cref="Regex"/>, or the value at <see cref="JsonPath"/> of the JSON answer is complete.
/// Exactly one of the two is set.
/// </summary>
public sealed class WatchSpec
{
    private WatchSpec(string id, Regex? regex, JsonPath? jsonPath)
    {
        Id = id;
        Regex = regex;
        JsonPath = jsonPath;
    }

    /// <summary>Longest time one regex evaluation may take; a pattern that needs longer fails its watch's request.</summary>
    public static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(50);

    /// <summary>The client's id for the watch, unique within a stream.</summary>
    public string Id { get; }

    /// <summary>The pattern the text so far must match; null for a JSON-path watch.</summary>
    public Regex? Regex { get; }

    /// <summary>The value that must be complete; null for a regex watch.</summary>
    public JsonPath? JsonPath { get; }

    /// <summary>A watch on a regex (.NET syntax, with a match timeout); false with a reason when the pattern is invalid.</summary>
    public static bool TryCreateRegex(string id, string pattern, out WatchSpec? watch, out string? error)
    {
        watch = null;
        try
        {
            watch = new WatchSpec(id, new Regex(pattern, RegexOptions.CultureInvariant, RegexTimeout), null);
            error = null;
            return true;
        }
        catch (ArgumentException ex)
        {
            error = ex.Message;
            return false;
        }
    }

    /// <summary>A watch on a JSON path; false with a reason when the path is not in the supported subset.</summary>
    public static bool TryCreateJsonPath(string id, string path, out WatchSpec? watch, out string? error)
    {
        watch = null;
        if (!Json.JsonPath.TryParse(path, out var parsed, out error))
        {
            return false;
        }

        watch = new WatchSpec(id, null, parsed);
        return true;
    }
}
