using System.Text.Json;
using Tokenflow.Core.Streams;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Anthropic;

/// <summary>
/// Anthropic's error shape, <c>{"type":"error","error":{"type","message"}}</c>, with the HTTP status Anthropic
/// uses for each type; built from the OpenAI errors the rest of the server produces, so one validation path
/// serves both doors.
/// </summary>
internal static class AnthropicError
{
    /// <summary>Anthropic's error type for an HTTP status.</summary>
    public static string TypeFor(int status) => status switch
    {
        400 or 413 or 422 => status == 413 ? "request_too_large" : "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        503 or 529 => "overloaded_error",
        _ => "api_error",
    };

    /// <summary>Writes <c>{"type":"error","error":{"type","message"}}</c>.</summary>
    public static void Write(Utf8JsonWriter w, string type, string message)
    {
        w.WriteStartObject();
        w.WriteString("type"u8, "error"u8);
        w.WriteStartObject("error"u8);
        w.WriteString("type"u8, type);
        w.WriteString("message"u8, message);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>The Anthropic error type of a stream's terminal error.</summary>
    public static string TypeFor(StreamError error) => error.Status != 0 ? TypeFor(error.Status)
        : error.Code is "server_shutdown" or "overloaded" ? "overloaded_error"
        : "api_error";

    /// <summary>Sends <paramref name="error"/> as the whole response in Anthropic's shape.</summary>
    public static async Task WriteResponseAsync(HttpResponse response, OpenAiError error)
    {
        response.StatusCode = error.Status;
        response.ContentType = "application/json";
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, JsonWriting.Options))
        {
            Write(w, TypeFor(error.Status), error.Message);
        }

        await response.Body.WriteAsync(buffer.WrittenMemory, response.HttpContext.RequestAborted);
    }
}
