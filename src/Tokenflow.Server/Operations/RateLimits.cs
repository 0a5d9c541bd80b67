using Microsoft.Extensions.Options;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Hosting;

namespace Tokenflow.Server.Operations;

/// <summary>
/// Decides whether a request is within its key's (or address') limits, and charges generations' tokens to the
/// window they end in. Windows are fixed and aligned to the Unix epoch, so processes sharing Redis agree on them.
/// A store that cannot be reached does not stop traffic: the request is let through and the failure logged.
/// </summary>
internal sealed partial class RateLimits(IOptions<RateLimitOptions> options, RateLimitCounter counter, TimeProvider timeProvider, ILogger<RateLimits> logger)
{
    public RateLimitOptions Options { get; } = options.Value;

    /// <summary>The partition a request counts in: its API key's owner id, else its client address.</summary>
    public static string PartitionOf(HttpContext context)
        => ApiKeys.OwnerOf(context) is { } owner ? "key:" + owner : "ip:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown");

    /// <summary>True for the HTTP requests the limits apply to: the API (<c>/v1</c>). MCP counts its tool calls instead (<see cref="McpRateLimitFilter"/>).</summary>
    public static bool Applies(HttpContext context)
        => context.Request.Path.StartsWithSegments("/v1", StringComparison.Ordinal);

    /// <summary>True for requests that may start a generation (the token limit refuses those).</summary>
    public static bool MayGenerate(HttpContext context) => HttpMethods.IsPost(context.Request.Method);

    /// <summary>Counts one request of <paramref name="partition"/>; returns why it is refused, or null when it may go on.</summary>
    public async ValueTask<RateLimitRefusal?> CheckAsync(string partition, bool countRequest, bool mayGenerate)
    {
        var (window, retryAfter, ttl) = CurrentWindow();
        try
        {
            if (countRequest && Options.RequestsPerMinute > 0
                && await counter.AddAsync($"req:{partition}:{window}", 1, ttl) > Options.RequestsPerMinute)
            {
                return new RateLimitRefusal("requests", $"Rate limit reached: {Options.RequestsPerMinute} requests per {Describe(Options.Window)}. Retry in {Seconds(retryAfter)} s.", retryAfter);
            }

            if (mayGenerate && Options.TokensPerMinute > 0
                && await counter.AddAsync($"tok:{partition}:{window}", 0, ttl) >= Options.TokensPerMinute)
            {
                return new RateLimitRefusal("tokens", $"Rate limit reached: {Options.TokensPerMinute} tokens per {Describe(Options.Window)}. Retry in {Seconds(retryAfter)} s.", retryAfter);
            }
        }
        catch (StreamStoreUnavailableException ex)
        {
            LogCounterUnavailable(logger, ex);
        }

        return null;
    }

    /// <summary>Charges a generation's tokens to <paramref name="partition"/> (in the background: the generation has ended).</summary>
    public void ChargeTokens(string partition, Usage usage)
    {
        if (Options.TokensPerMinute <= 0 || usage.TotalTokens <= 0)
        {
            return;
        }

        _ = ChargeAsync(partition, usage.TotalTokens);
    }

    /// <summary>The whole seconds of a Retry-After header for <paramref name="retryAfter"/> (at least 1).</summary>
    public static long Seconds(TimeSpan retryAfter) => Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds));

    private async Task ChargeAsync(string partition, int tokens)
    {
        var (window, _, ttl) = CurrentWindow();
        try
        {
            await counter.AddAsync($"tok:{partition}:{window}", tokens, ttl);
        }
        catch (StreamStoreUnavailableException ex)
        {
            LogCounterUnavailable(logger, ex);
        }
    }

    private (long Window, TimeSpan RetryAfter, TimeSpan Ttl) CurrentWindow()
    {
        var length = (long)Options.Window.TotalMilliseconds;
        var now = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        var window = now / length;
        var retryAfter = TimeSpan.FromMilliseconds(((window + 1) * length) - now);
        return (window, retryAfter, retryAfter + TimeSpan.FromSeconds(5));
    }

    private static string Describe(TimeSpan window) => window == TimeSpan.FromMinutes(1) ? "minute" : $"{window.TotalSeconds:0.###} s";

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rate-limit counters unavailable; the request is let through")]
    private static partial void LogCounterUnavailable(ILogger logger, Exception exception);
}
