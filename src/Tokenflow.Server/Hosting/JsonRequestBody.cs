using System.Text.Json;
using Microsoft.Extensions.Options;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Hosting;

/// <summary>
/// Reading a JSON request body for the doors that parse it as a document (Messages, Responses, watches):
/// malformed JSON is a 400 <c>invalid_json</c> and a body over <see cref="TokenflowOptions.MaxRequestBodyBytes"/>
/// a 413, in one place.
/// </summary>
internal static class JsonRequestBody
{
    /// <summary>Parses the body and hands its root to <paramref name="parse"/>; returns its error or the body's.</summary>
    public static async Task<OpenAiError?> ReadAsync(HttpContext context, Func<JsonElement, OpenAiError?> parse)
    {
        try
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted);
            return parse(body.RootElement);
        }
        catch (JsonException ex)
        {
            return OpenAiError.Invalid($"The request body is not valid JSON: {ex.Message}", null, "invalid_json");
        }
        catch (InvalidOperationException ex) when (ex.StackTrace?.Contains("System.Text.Json.", StringComparison.Ordinal) == true)
        {
            // JsonDocument accepts escaped lone surrogates ("\ud800") and throws only when a string is read.
            return OpenAiError.Invalid($"The request body has a string that is not valid UTF-16: {ex.Message}", null, "invalid_json");
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return OpenAiError.TooLarge(context.RequestServices.GetRequiredService<IOptions<TokenflowOptions>>().Value.MaxRequestBodyBytes);
        }
    }

    /// <summary>The string member <paramref name="name"/> of an object; false when absent or not a string.</summary>
    public static bool TryGetString(this JsonElement element, string name, out string? value)
    {
        value = element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        return value is not null;
    }

    /// <summary>
    /// The optional number member <paramref name="name"/>: true with null when absent or JSON null; true with the value
    /// when it is a finite number in [<paramref name="min"/>, <paramref name="max"/>] (above <paramref name="min"/> when
    /// <paramref name="minExclusive"/>); false for anything else (another JSON type included), so the caller answers
    /// with a 400 naming the field.
    /// </summary>
    public static bool TryGetOptionalSingle(this JsonElement root, string name, float min, float max, bool minExclusive, out float? value)
    {
        value = null;
        if (!root.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return true;
        }

        if (element.ValueKind != JsonValueKind.Number || !element.TryGetSingle(out var v) || !float.IsFinite(v) || v > max || (minExclusive ? v <= min : v < min))
        {
            return false;
        }

        value = v;
        return true;
    }

    /// <summary>As <see cref="TryGetOptionalSingle"/>, for an integer member in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static bool TryGetOptionalInt64(this JsonElement root, string name, long min, long max, out long? value)
    {
        value = null;
        if (!root.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return true;
        }

        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out var v) || v < min || v > max)
        {
            return false;
        }

        value = v;
        return true;
    }

    /// <summary>
    /// <c>sim_tokens_per_second</c> and <c>sim_ttft_ms</c> (model <c>sim</c> only), as the JSON-document doors read them:
    /// leniently — a value of the wrong type or out of range is ignored (0), never an error.
    /// </summary>
    public static (double TokensPerSecond, int TtftMs) SimPacing(this JsonElement root)
    {
        var rate = root.TryGetOptionalSingle("sim_tokens_per_second", 0, float.MaxValue, minExclusive: true, out var r) && r is { } tps ? tps : 0;
        var ttft = root.TryGetOptionalInt64("sim_ttft_ms", 1, 600_000, out var t) && t is { } ms ? (int)ms : 0;
        return (rate, ttft);
    }
}
