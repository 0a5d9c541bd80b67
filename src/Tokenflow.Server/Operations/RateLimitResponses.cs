using System.Globalization;
using Microsoft.AspNetCore.RateLimiting;
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
        await DoorErrors.WriteAsync(context, ToOpenAiError(refusal));
    }
}
