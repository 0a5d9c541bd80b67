using Microsoft.Extensions.Options;

namespace Tokenflow.Upstreams;

/// <summary>Checks every upstream's settings at start-up; each message names the setting (never a key's value).</summary>
internal sealed class UpstreamsOptionsValidation : IValidateOptions<UpstreamsOptions>
{
    public ValidateOptionsResult Validate(string? name, UpstreamsOptions options)
    {
        var failures = new List<string>();
        foreach (var (upstream, o) in options.Upstreams)
        {
            var at = $"Tokenflow:Upstreams:{upstream}";
            if (string.IsNullOrWhiteSpace(upstream) || upstream.Contains('/', StringComparison.Ordinal))
            {
                failures.Add($"{at}: an upstream's name must be non-empty and contain no '/'.");
            }

            if (ParseKind(o.Kind) is null)
            {
                failures.Add($"{at}:Kind must be openai, anthropic or ollama (got '{o.Kind}').");
            }

            if (!Uri.TryCreate(o.Url, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
            {
                failures.Add($"{at}:Url must be an absolute http:// or https:// URL (got '{o.Url}').");
            }

            if (o.ApiKey is { } key && key.StartsWith("env:", StringComparison.Ordinal) && string.IsNullOrEmpty(Environment.GetEnvironmentVariable(key[4..])))
            {
                failures.Add($"{at}:ApiKey names the environment variable {key[4..]}, which is not set.");
            }

            if (o.ConnectTimeout <= TimeSpan.Zero)
            {
                failures.Add($"{at}:ConnectTimeout must be positive; it is {o.ConnectTimeout}.");
            }

            if (o.TtftTimeout <= TimeSpan.Zero)
            {
                failures.Add($"{at}:TtftTimeout must be positive; it is {o.TtftTimeout}.");
            }

            foreach (var pattern in o.Models)
            {
                if (string.IsNullOrWhiteSpace(pattern) || pattern.IndexOf('*', StringComparison.Ordinal) is var star && star >= 0 && star != pattern.Length - 1)
                {
                    failures.Add($"{at}:Models: '{pattern}' must be a model id or a prefix ending in '*'.");
                }
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    public static UpstreamKind? ParseKind(string? kind) => kind?.ToLowerInvariant() switch
    {
        "openai" => UpstreamKind.OpenAi,
        "anthropic" => UpstreamKind.Anthropic,
        "ollama" => UpstreamKind.Ollama,
        _ => null,
    };
}
