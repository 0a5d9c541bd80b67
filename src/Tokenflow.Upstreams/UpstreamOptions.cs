namespace Tokenflow.Upstreams;

/// <summary>
/// One upstream provider, bound from <c>Tokenflow:Upstreams:&lt;name&gt;</c>. The model id
/// <c>&lt;name&gt;/&lt;id&gt;</c> always reaches it with <c>&lt;id&gt;</c> sent on; bare ids reach it when
/// they match <see cref="Models"/>.
/// </summary>
public sealed class UpstreamOptions
{
    /// <summary><c>openai</c> (any OpenAI-compatible server), <c>anthropic</c> (Messages API) or <c>ollama</c> (native <c>/api/chat</c>).</summary>
    public string? Kind { get; set; }

    /// <summary>
    /// Base URL: for <c>openai</c> up to and including <c>/v1</c>; for <c>anthropic</c> the API root
    /// (<c>/v1/messages</c> is appended); for <c>ollama</c> the server root (<c>/api/chat</c> is appended).
    /// </summary>
    public string? Url { get; set; }

    /// <summary>The API key: a literal, or <c>env:VAR</c> to read it from an environment variable. Never logged.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Bare model ids served by this upstream under their own name, or prefixes ending in <c>*</c>.</summary>
    public List<string> Models { get; set; } = [];

    /// <summary>Failover order among upstreams matching the same bare id: lower first (default 0), then configuration order (names from <c>IConfiguration</c> come sorted, so: by name).</summary>
    public int Priority { get; set; }

    /// <summary>How long connecting (TCP and TLS) may take before failing over (default 10 s).</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long to wait for the first token before failing over to the next upstream (default 60 s).</summary>
    public TimeSpan TtftTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long the upstream's model list is cached for <c>/v1/models</c> (default 5 minutes).</summary>
    public TimeSpan ModelListCacheTime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Extra request headers sent with every request (<c>Headers:&lt;name&gt;</c>).</summary>
    public Dictionary<string, string> Headers { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}
