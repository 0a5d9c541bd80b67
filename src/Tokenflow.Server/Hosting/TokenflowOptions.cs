using System.ComponentModel.DataAnnotations;

namespace Tokenflow.Server.Hosting;

/// <summary>Server settings, bound from the <c>Tokenflow</c> configuration section.</summary>
public sealed class TokenflowOptions : IValidatableObject
{
    /// <summary>The configuration section name.</summary>
    public const string Section = "Tokenflow";

    /// <summary>Largest accepted request body, in bytes; larger bodies get 413. Default 8 MiB.</summary>
    [Range(1024, int.MaxValue)]
    public long MaxRequestBodyBytes { get; set; } = 8L * 1024 * 1024;

    /// <summary>Largest <c>max_tokens</c> a request may ask for. Default 1,000,000.</summary>
    [Range(1, int.MaxValue)]
    public int MaxTokensLimit { get; set; } = 1_000_000;

    /// <summary><c>max_tokens</c> when a request sets none and the model's context does not bound it. Default 256.</summary>
    [Range(1, int.MaxValue)]
    public int DefaultMaxTokens { get; set; } = 256;

    /// <summary>A comment line is sent after this much silence on an event stream; must be positive. Default 15 seconds.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// API keys clients must send as <c>Authorization: Bearer</c>. Empty (the default) turns
    /// authentication off. With keys, a stream is readable and cancellable only with the key that made it.
    /// Checked by the authentication scheme <see cref="ApiKeys.Scheme"/>.
    /// </summary>
    public string[] ApiKeys { get; set; } = [];

    /// <summary>
    /// Host names accepted besides the loopback ones while the server listens only on loopback without
    /// API keys (others get 403: DNS rebinding protection). Default none.
    /// </summary>
    public string[] AllowedHosts { get; set; } = [];

    /// <summary>
    /// Origins (<c>https://app.example.com</c>) accepted besides loopback pages while the server listens only on
    /// loopback without API keys (others get 403: drive-by protection). Default none.
    /// </summary>
    public string[] AllowedOrigins { get; set; } = [];

    /// <summary>Largest accepted <c>resume_grace_ms</c>; must not be negative. Default 10 minutes.</summary>
    public TimeSpan MaxResumeGrace { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// On shutdown (SIGTERM), how long running generations get to finish before they end with the terminal error
    /// <c>server_shutdown</c>; new ones are refused meanwhile. Must not be negative. Default 30 seconds.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (HeartbeatInterval <= TimeSpan.Zero)
        {
            yield return new ValidationResult($"{Section}:{nameof(HeartbeatInterval)} must be positive; it is {HeartbeatInterval}.", [nameof(HeartbeatInterval)]);
        }

        if (DrainTimeout < TimeSpan.Zero)
        {
            yield return new ValidationResult($"{Section}:{nameof(DrainTimeout)} must not be negative; it is {DrainTimeout}.", [nameof(DrainTimeout)]);
        }

        if (MaxResumeGrace < TimeSpan.Zero)
        {
            yield return new ValidationResult($"{Section}:{nameof(MaxResumeGrace)} must not be negative; it is {MaxResumeGrace}.", [nameof(MaxResumeGrace)]);
        }
    }
}
