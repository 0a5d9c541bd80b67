using System.Runtime.InteropServices;
using System.Text.Json;

namespace Tokenflow.Core.Durable;

/// <summary>Content-type and message rules shared by the Durable Streams stores.</summary>
public static class DurableMessages
{
    /// <summary>The media type without parameters, lower-cased (<c>Application/JSON; charset=utf-8</c> → <c>application/json</c>).</summary>
    public static string MediaType(string? contentType)
    {
        var value = contentType ?? string.Empty;
        var semicolon = value.IndexOf(';', StringComparison.Ordinal);
        return (semicolon >= 0 ? value[..semicolon] : value).Trim().ToLowerInvariant();
    }

    /// <summary>True for content types whose streams use JSON mode.</summary>
    public static bool IsJsonType(string? contentType) => MediaType(contentType) == "application/json";

    /// <summary>
    /// The messages a body holds: for JSON streams, the body's value, or each element of a top-level array
    /// (one level of flattening, §9.1.2); for other streams, the body itself.
    /// </summary>
    public static bool Split(ReadOnlyMemory<byte> body, bool isJson, bool allowEmptyArray, List<ReadOnlyMemory<byte>> messages, out string? error)
    {
        error = null;
        if (!isJson)
        {
            if (!body.IsEmpty)
            {
                messages.Add(body.ToArray());
            }

            return true;
        }

        if (body.IsEmpty)
        {
            return true;
        }

        // The JSON reader checks structure, not the bytes inside strings: invalid UTF-8 would be stored and served.
        if (!System.Text.Unicode.Utf8.IsValid(body.Span))
        {
            error = "The body is not valid UTF-8.";
            return false;
        }

        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Array)
            {
                messages.Add(JsonMarshal.GetRawUtf8Value(root).ToArray());
                return true;
            }

            foreach (var element in root.EnumerateArray())
            {
                messages.Add(JsonMarshal.GetRawUtf8Value(element).ToArray());
            }

            if (messages.Count == 0 && !allowEmptyArray)
            {
                error = "An append of an empty JSON array has no messages.";
                return false;
            }

            return true;
        }
        catch (JsonException ex)
        {
            error = $"The body is not valid JSON: {ex.Message}";
            return false;
        }
    }
}
