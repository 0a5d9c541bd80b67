using System.Text.Json.Nodes;

namespace Tokenflow.Cli.Bench;

/// <summary>What a benchmark run sends and for how long.</summary>
internal sealed class BenchSettings
{
    /// <summary>The chat completions endpoint (…/v1/chat/completions).</summary>
    public required Uri Endpoint { get; init; }

    public required string Model { get; init; }

    public int Concurrency { get; init; } = 1;

    /// <summary>Requests to send in all; null = until <see cref="Duration"/> ends.</summary>
    public int? Requests { get; init; }

    /// <summary>Stop starting requests after this long; null = until <see cref="Requests"/> are sent.</summary>
    public TimeSpan? Duration { get; init; }

    public int MaxTokens { get; init; } = 256;

    public string Prompt { get; init; } = "Tell me about token streaming.";

    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(2);

    public string? ApiKey { get; init; }

    public JsonObject? Extra { get; init; }

    /// <summary>
    /// The endpoint for a base address: <c>http://host:8080</c>, <c>…/v1</c> and a full
    /// <c>…/v1/chat/completions</c> all work, so any OpenAI-compatible server can be named as its docs name it.
    /// </summary>
    public static Uri EndpointFor(Uri url)
    {
        var text = url.GetLeftPart(UriPartial.Path).TrimEnd('/');
        if (text.EndsWith("/chat/completions", StringComparison.Ordinal))
        {
            return new Uri(text);
        }

        if (text.EndsWith("/v1", StringComparison.Ordinal))
        {
            text = text[..^3];
        }

        return new Uri(text + "/v1/chat/completions");
    }
}
