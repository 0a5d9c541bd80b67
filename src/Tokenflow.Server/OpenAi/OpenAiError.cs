using System.Text.Json;

namespace Tokenflow.Server.OpenAi;

/// <summary>An OpenAI-style error: the HTTP status and the <c>{"error":{…}}</c> body it is sent with.</summary>
/// <param name="Status">HTTP status code.</param>
/// <param name="Message">Human-readable description.</param>
/// <param name="Type">OpenAI error type ("invalid_request_error", "server_error", …).</param>
/// <param name="Param">The offending request field, if any.</param>
/// <param name="Code">Machine-readable code, if any.</param>
public sealed record OpenAiError(int Status, string Message, string Type, string? Param = null, string? Code = null)
{
    /// <summary>400: the request is malformed or invalid.</summary>
    public static OpenAiError Invalid(string message, string? param = null, string? code = null)
        => new(StatusCodes.Status400BadRequest, message, "invalid_request_error", param, code);

    /// <summary>404: unknown model.</summary>
    public static OpenAiError ModelNotFound(string model)
        => new(StatusCodes.Status404NotFound, $"The model '{model}' does not exist. GET /v1/models lists the models this server serves.", "invalid_request_error", "model", "model_not_found");

    /// <summary>404: unknown or expired stream.</summary>
    public static OpenAiError StreamNotFound(string id)
        => new(StatusCodes.Status404NotFound, $"No stream '{id}': it never existed or has expired.", "invalid_request_error", "stream_id", "stream_not_found");

    /// <summary>410: a stream with retention "none" no longer holds the events after <paramref name="after"/>.</summary>
    public static OpenAiError NotRetained(string id, long after)
        => new(StatusCodes.Status410Gone, $"Stream '{id}' has retention \"none\": the events after {after} were released once every reader had them. Read from a later event.", "invalid_request_error", "after", "not_retained");

    /// <summary>413: the body is over the configured limit.</summary>
    public static OpenAiError TooLarge(long limit)
        => new(StatusCodes.Status413PayloadTooLarge, $"The request body is larger than the limit of {limit} bytes.", "invalid_request_error", null, "request_too_large");

    /// <summary>503: the stream store is full.</summary>
    public static OpenAiError Overloaded()
        => new(StatusCodes.Status503ServiceUnavailable, "The server is at its stream limit; retry shortly.", "server_error", null, "overloaded");

    /// <summary>503: the stream store's backing service (Redis) cannot be reached.</summary>
    public static OpenAiError StoreUnavailable()
        => new(StatusCodes.Status503ServiceUnavailable, "The stream store is unavailable; retry shortly.", "server_error", null, "store_unavailable");

    /// <summary>Why a generation could not start, for any status other than <see cref="Tokenflow.Core.Streams.StreamCreateStatus.Created"/>.</summary>
    public static OpenAiError StartRefused(Tokenflow.Core.Streams.StreamCreateStatus status)
        => status == Tokenflow.Core.Streams.StreamCreateStatus.Unavailable ? StoreUnavailable() : Overloaded();

    /// <summary>Writes the error object's JSON (<c>{"error":{…}}</c>).</summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        WriteInnerWrapped(writer, Message, Type, Param, Code);
    }

    /// <summary>Writes <c>{"error":{"message","type","param","code"}}</c>.</summary>
    internal static void WriteInnerWrapped(Utf8JsonWriter writer, string message, string type, string? param, string? code)
    {
        writer.WriteStartObject();
        writer.WritePropertyName("error"u8);
        WriteInner(writer, message, type, param, code);
        writer.WriteEndObject();
    }

    /// <summary>Writes <c>{"message","type","param","code"}</c>.</summary>
    internal static void WriteInner(Utf8JsonWriter writer, string message, string type, string? param, string? code)
    {
        writer.WriteStartObject();
        writer.WriteString("message"u8, message);
        writer.WriteString("type"u8, type);
        writer.WriteString("param"u8, param);
        writer.WriteString("code"u8, code);
        writer.WriteEndObject();
    }

    /// <summary>Sends the error as the whole response.</summary>
    public async Task WriteResponseAsync(HttpResponse response)
    {
        response.StatusCode = Status;
        response.ContentType = "application/json";
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, JsonWriting.Options))
        {
            WriteTo(writer);
        }

        await response.Body.WriteAsync(buffer.WrittenMemory, response.HttpContext.RequestAborted);
    }
}
