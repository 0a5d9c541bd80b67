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
}
