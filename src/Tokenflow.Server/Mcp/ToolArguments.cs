using System.Globalization;
using System.Text.Json;

namespace Tokenflow.Server.Mcp;

/// <summary>
/// Reads a tool call's raw JSON arguments with messages a model can act on. The SDK's own binding
/// answers a wrong type with a generic "An error occurred invoking …", so tools take the arguments
/// as sent and check them here. Each getter returns null (or the default) on a problem and keeps the
/// first problem in <see cref="Error"/>; a tool checks it once, after reading everything.
/// JSON <c>null</c> counts as absent, as many clients send it for optional arguments.
/// </summary>
internal sealed class ToolArguments
{
    private readonly IDictionary<string, JsonElement> _values;

    public ToolArguments(IDictionary<string, JsonElement>? values, IReadOnlyCollection<string> known)
    {
        _values = values ?? new Dictionary<string, JsonElement>();
        foreach (var name in _values.Keys)
        {
            if (!known.Contains(name))
            {
                Fail($"Unknown argument '{name}'. This tool takes: {string.Join(", ", known)}.");
                break;
            }
        }
    }

    /// <summary>The first problem found, or null when every argument read so far is valid.</summary>
    public string? Error { get; private set; }

    /// <summary>True when the argument is present and not null.</summary>
    public bool Has(string name) => _values.TryGetValue(name, out var value) && value.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined);

    /// <summary>The argument as sent (<see cref="JsonValueKind.Undefined"/> when absent or null).</summary>
    public JsonElement Raw(string name) => Has(name) ? _values[name] : default;

    public string? String(string name, bool required = false)
    {
        if (!Has(name))
        {
            if (required)
            {
                Fail($"'{name}' is required.");
            }

            return null;
        }

        var value = _values[name];
        if (value.ValueKind != JsonValueKind.String)
        {
            Fail($"'{name}' must be a string (got {Describe(value)}).");
            return null;
        }

        return value.GetString();
    }

    public long? Integer(string name, long min, long max)
    {
        if (!Has(name))
        {
            return null;
        }

        var value = _values[name];
        if (!TryGetInteger(value, out var number))
        {
            Fail($"'{name}' must be an integer (got {Describe(value)}).");
            return null;
        }

        if (number < min || number > max)
        {
            Fail($"'{name}' must be between {min} and {max} (got {number}).");
            return null;
        }

        return number;
    }

    public double? Number(string name)
    {
        if (!Has(name))
        {
            return null;
        }

        var value = _values[name];
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number) || !double.IsFinite(number))
        {
            Fail($"'{name}' must be a number (got {Describe(value)}).");
            return null;
        }

        return number;
    }

    private static bool TryGetInteger(JsonElement value, out long number)
    {
        number = 0;
        if (value.ValueKind != JsonValueKind.Number)
        {
            return false;
        }

        if (value.TryGetInt64(out number))
        {
            return true;
        }

        // A whole number written as 64.0 is still an integer in JSON Schema's sense.
        if (value.TryGetDouble(out var d) && double.IsInteger(d) && Math.Abs(d) < 9e15)
        {
            number = (long)d;
            return true;
        }

        return false;
    }

    /// <summary>Records a problem found by the caller (only the first one is kept).</summary>
    public void Fail(string message) => Error ??= message;

    /// <summary>A short rendering of a wrong value for an error message: its JSON, cut to 40 characters.</summary>
    public static string Describe(JsonElement value)
    {
        var text = value.ValueKind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            _ => value.GetRawText(),
        };
        return text.Length <= 40 ? text : string.Create(CultureInfo.InvariantCulture, $"{text.AsSpan(0, 37)}...");
    }
}
