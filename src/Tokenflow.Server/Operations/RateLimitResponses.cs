using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.RateLimiting;
using Tokenflow.Server.Anthropic;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Operations;

/// <summary>The 429 of a refused request, in the door's own shape, with <c>Retry-After</c>.</summary>
internal static class RateLimitResponses
{
    /// <summary>The OpenAI error of a refusal: type <c>requests</c> or <c>tokens</c>, code <c>rate_limit_exceeded</c>, as OpenAI sends it.</summary>
    public static OpenAiError ToOpenAiError(RateLimitRefusal refusal)
        => new(StatusCodes.Status429TooManyRequests, refusal.Message, refusal.Limit, null, "rate_limit_exceeded");

    public static async ValueTask OnRejectedAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var context = rejected.HttpContext;
        var refusal = (rejected.Lease as TokenflowRateLimiter.Lease)?.Refusal
            ?? new RateLimitRefusal("requests", "Rate limit reached.", TimeSpan.FromSeconds(1));
        context.Response.Headers.RetryAfter = RateLimits.Seconds(refusal.RetryAfter).ToString(CultureInfo.InvariantCulture);
        var error = ToOpenAiError(refusal);
        if (context.Request.Path.StartsWithSegments("/v1/messages", StringComparison.Ordinal))
        {
            await AnthropicError.WriteResponseAsync(context.Response, error);
        }
        else if (context.Request.Path.StartsWithSegments("/mcp", StringComparison.Ordinal))
        {
            // JSON-RPC's shape (the MCP SDK's own HTTP errors look the same): no request id is known here.
            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            context.Response.ContentType = "application/json";
            await using var writer = new Utf8JsonWriter(context.Response.Body);
            writer.WriteStartObject();
            writer.WriteString("jsonrpc"u8, "2.0"u8);
            writer.WriteNull("id"u8);
            writer.WriteStartObject("error"u8);
            writer.WriteNumber("code"u8, -32000);
            writer.WriteString("message"u8, refusal.Message);
            writer.WriteEndObject();
            writer.WriteEndObject();
            await writer.FlushAsync(cancellationToken);
        }
        else
        {
            await error.WriteResponseAsync(context.Response);
        }
    }
}
