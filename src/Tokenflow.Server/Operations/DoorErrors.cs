using System.Text.Json;
using Tokenflow.Server.Anthropic;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Operations;

/// <summary>
/// Writes an error that no door handled itself (the last-resort handlers, a rate-limit refusal) in the shape of
/// the door the request came to: Anthropic's on <c>/v1/messages</c>, JSON-RPC's on <c>/mcp</c>, the OpenAI error
/// object everywhere else (chat, completions, Responses, streams, and the Durable Streams door, whose store
/// failures clients read as <c>{"error":{"code":"store_unavailable"}}</c>).
/// </summary>
internal static class DoorErrors
{
    /// <summary>The JSON-RPC error code of a request the server refused or could not read before it reached the MCP SDK.</summary>
    public const int JsonRpcServerError = -32000;

    /// <summary>JSON-RPC's "invalid request" code: the body was read but is not a request the server can take.</summary>
    public const int JsonRpcInvalidRequest = -32600;

    /// <summary>Sends <paramref name="error"/> as the whole response in the shape of the request's door.</summary>
    public static async Task WriteAsync(HttpContext context, OpenAiError error)
    {
        var path = context.Request.Path;
        if (path.StartsWithSegments("/v1/messages", StringComparison.Ordinal))
        {
            await AnthropicError.WriteResponseAsync(context.Response, error).ConfigureAwait(false);
        }
        else if (path.StartsWithSegments("/mcp", StringComparison.Ordinal))
        {
            await WriteJsonRpcAsync(context.Response, error.Status, error.Status < 500 ? JsonRpcInvalidRequest : JsonRpcServerError, error.Message).ConfigureAwait(false);
        }
        else
        {
            await error.WriteResponseAsync(context.Response).ConfigureAwait(false);
        }
    }

    /// <summary>Sends a JSON-RPC error response with no request id (none is known outside the SDK), as the MCP SDK's own HTTP errors look.</summary>
    public static async Task WriteJsonRpcAsync(HttpResponse response, int status, int code, string message)
    {
        response.StatusCode = status;
        response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(response.Body);
        writer.WriteStartObject();
        writer.WriteString("jsonrpc"u8, "2.0"u8);
        writer.WriteNull("id"u8);
        writer.WriteStartObject("error"u8);
        writer.WriteNumber("code"u8, code);
        writer.WriteString("message"u8, message);
        writer.WriteEndObject();
        writer.WriteEndObject();
        await writer.FlushAsync(response.HttpContext.RequestAborted).ConfigureAwait(false);
    }
}
