namespace Tokenflow.Server.Operations;

/// <summary>
/// Rate limits, bound from <c>Tokenflow:RateLimits</c>: per API key, or per client address when the server has
/// no keys; counted in fixed windows shared by every process on the same Redis store. Off by default.
/// </summary>
public sealed class RateLimitOptions
{
    /// <summary>The configuration section name.</summary>
    public const string Section = "Tokenflow:RateLimits";

    /// <summary>Requests each key (or address) may make per <see cref="Window"/> on <c>/v1</c> and <c>/mcp</c>; 0 (default) = no limit.</summary>
    public int RequestsPerMinute { get; set; }

    /// <summary>
    /// Tokens (prompt + completion, as counted in usage; cancelled generations count what they generated) each
    /// key may use per <see cref="Window"/>; once used up, requests that start generations get 429 until the
    /// window ends. 0 (default) = no limit.
    /// </summary>
    public int TokensPerMinute { get; set; }

    /// <summary>The window the limits count in. Default one minute (the names say per minute); shorter for tests.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>True when a limit is set.</summary>
    public bool Enabled => RequestsPerMinute > 0 || TokensPerMinute > 0;
}
