using System.Text.Json.Nodes;

namespace Tokenflow.Cli.Bench;

/// <summary>What a benchmark run sends, to which targets, and under which load.</summary>
internal sealed class BenchSettings
{
    /// <summary>The targets, measured one after another in this order (more than one with <c>--compare</c>).</summary>
    public required IReadOnlyList<BenchTargetSpec> Targets { get; init; }

    public required string Model { get; init; }

    /// <summary>Requests in flight at most (closed loop: workers sending back to back; open loop: connections).</summary>
    public int Concurrency { get; init; } = 1;

    /// <summary>Open loop: requests started per second, on a fixed schedule; null = closed loop.</summary>
    public double? Rate { get; init; }

    /// <summary>Requests to send in all per target; null = until <see cref="Duration"/> ends.</summary>
    public int? Requests { get; init; }

    /// <summary>Stop starting requests after this long; null = until <see cref="Requests"/> are sent.</summary>
    public TimeSpan? Duration { get; init; }

    public int MaxTokens { get; init; } = 256;

    public string Prompt { get; init; } = "Tell me about token streaming.";

    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Cancel each request after this many partial results (tokens or progress notifications); null = never.</summary>
    public int? CancelAfter { get; init; }

    /// <summary>How long to wait, after a cancel, for the server to end the response before giving up on it.</summary>
    public TimeSpan CancelWait { get; init; } = TimeSpan.FromSeconds(5);

    public string? ApiKey { get; init; }

    /// <summary>Extra request fields: merged into HTTP bodies, and into the default MCP tool arguments.</summary>
    public JsonObject? Extra { get; init; }

    /// <summary>Headers sent with every HTTP request (<c>--header "Name: value"</c>).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    /// <summary>The MCP tool to call.</summary>
    public string Tool { get; init; } = "generate";

    /// <summary>The MCP tool's arguments; null = <c>{prompt, model, max_tokens}</c> plus <see cref="Extra"/>.</summary>
    public JsonObject? ToolArguments { get; init; }

    /// <summary>The MCP tool arguments actually sent.</summary>
    public JsonObject EffectiveToolArguments()
    {
        if (ToolArguments is { } given)
        {
            return (JsonObject)given.DeepClone();
        }

        var args = new JsonObject { ["prompt"] = Prompt, ["model"] = Model, ["max_tokens"] = MaxTokens };
        foreach (var (name, value) in Extra ?? [])
        {
            args[name] = value?.DeepClone();
        }

        return args;
    }

    /// <summary>
    /// The endpoint for a base address: <c>http://host:8080</c>, <c>…/v1</c> and a full <c>…/v1/chat/completions</c>
    /// (or <paramref name="path"/>) all work, so any server can be named as its docs name it.
    /// </summary>
    public static Uri EndpointFor(Uri url, string path = "/chat/completions")
    {
        var text = url.GetLeftPart(UriPartial.Path).TrimEnd('/');
        if (text.EndsWith(path, StringComparison.Ordinal))
        {
            return new Uri(text);
        }

        if (text.EndsWith("/v1", StringComparison.Ordinal))
        {
            text = text[..^3];
        }

        return new Uri(text + "/v1" + path);
    }
}
