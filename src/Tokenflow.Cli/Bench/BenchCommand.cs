using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Tokenflow.Cli.Bench;

/// <summary>
/// <c>tokenflow bench</c>: measures how soon and how evenly partial results arrive from streaming endpoints and MCP
/// servers, and how fast a cancel takes effect, in closed or open loop. Live progress goes to stderr on a terminal
/// (nothing when stderr is not one); the result (a table, or JSON with <c>--json</c>) to stdout; <c>--svg</c> draws
/// the distributions. Ctrl-C stops it early and still reports.
/// </summary>
internal static class BenchCommand
{
    private static readonly (string Name, BenchTargetKind Kind)[] TargetOptions =
    [
        ("--url", BenchTargetKind.ChatCompletions),
        ("--anthropic", BenchTargetKind.AnthropicMessages),
        ("--responses", BenchTargetKind.Responses),
        ("--mcp", BenchTargetKind.Mcp),
        ("--mcp-stdio", BenchTargetKind.McpStdio),
    ];

    public static Command Create(CliConsole console)
    {
        var url = HttpTargetOption("--url", "OpenAI chat completions: http://host:port, …/v1 or …/v1/chat/completions (default $TOKENFLOW_URL or http://127.0.0.1:8080 when no target is given).");
        var anthropic = HttpTargetOption("--anthropic", "Anthropic Messages: http://host:port, …/v1 or …/v1/messages.");
        var responses = HttpTargetOption("--responses", "OpenAI Responses: http://host:port, …/v1 or …/v1/responses.");
        var mcp = HttpTargetOption("--mcp", "An MCP server's Streamable HTTP endpoint, e.g. http://127.0.0.1:8080/mcp: calls --tool with a progress token.");
        var mcpStdio = new Option<string[]>("--mcp-stdio") { Description = "An MCP server to start and talk to over stdio: \"command args\" (quoted words kept together). Calls --tool with a progress token.", HelpName = "COMMAND", Arity = ArgumentArity.ZeroOrMore };
        var compare = new Option<bool>("--compare") { Description = "Run every target given, one after another under the same load, and print them side by side with ratios to the first." };
        var model = new Option<string>("--model", "-m") { Description = "Model id (HTTP doors; and MCP's default arguments).", DefaultValueFactory = _ => "sim" };
        var concurrency = new Option<int>("--concurrency", "-c") { Description = "Requests in flight at most (one connection, MCP session or process each). Closed loop: each sends its next request when the last ends.", DefaultValueFactory = _ => 1 };
        var rate = new Option<double?>("--rate") { Description = "Open loop: start requests at this fixed rate (N or N/s) and measure every latency from each request's scheduled time, so queueing shows.", HelpName = "N/s", CustomParser = ParseRate };
        var requests = new Option<int?>("--requests", "-n") { Description = "Requests to send per target (default: 5 per concurrent slot, at least 100, unless --duration is given)." };
        var duration = new Option<TimeSpan?>("--duration", "-d") { Description = "Stop starting requests after this long: 30s, 2m, 500ms or hh:mm:ss.", CustomParser = ParseDuration, HelpName = "TIME" };
        var maxTokens = new Option<int>("--max-tokens") { Description = "max_tokens of each request (MCP: in the default arguments).", DefaultValueFactory = _ => 256 };
        var prompt = new Option<string>("--prompt") { Description = "The user message of each request (MCP: the default arguments' prompt).", DefaultValueFactory = _ => "Tell me about token streaming." };
        var timeout = new Option<TimeSpan?>("--timeout") { Description = "Give up on one request after this long (default 2m).", CustomParser = ParseDuration, HelpName = "TIME" };
        var cancelAfter = new Option<int?>("--cancel-after") { Description = "Cancel each request after this many partials (tokens or progress notifications) and time the cancel: sent → the server's last byte. HTTP doors: POST /v1/streams/{X-Stream-Id}/cancel; MCP: notifications/cancelled." };
        var cancelWait = new Option<TimeSpan?>("--cancel-wait") { Description = "After a cancel, wait this long for the server to end the response, then close it and count it unconfirmed (default 5s).", CustomParser = ParseDuration, HelpName = "TIME" };
        var tool = new Option<string>("--tool") { Description = "MCP tool to call.", DefaultValueFactory = _ => "generate" };
        var toolArgs = JsonObjectOption("--args", "MCP tool arguments as a JSON object (default {\"prompt\",\"model\",\"max_tokens\"} from the options above, plus --extra).");
        var headers = new Option<string[]>("--header", "-H") { Description = "HTTP header for every request, \"Name: value\" (repeatable).", HelpName = "HEADER", Arity = ArgumentArity.ZeroOrMore };
        var labels = new Option<string[]>("--label") { Description = "Names for the targets in reports, in the order the targets are given (repeatable).", HelpName = "NAME", Arity = ArgumentArity.ZeroOrMore };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var svg = new Option<FileInfo?>("--svg") { Description = "Write CDF charts of first-partial latency and of gaps to this SVG file.", HelpName = "FILE" };
        var apiKey = TokenflowCli.ApiKeyOption();
        var extra = TokenflowCli.ExtraOption();
        concurrency.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 1) { r.AddError("--concurrency must be at least 1."); } });
        requests.Validators.Add(r => { if (r.GetValueOrDefault<int?>() < 1) { r.AddError("--requests must be at least 1."); } });
        maxTokens.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 1) { r.AddError("--max-tokens must be at least 1."); } });
        cancelAfter.Validators.Add(r => { if (r.GetValueOrDefault<int?>() < 1) { r.AddError("--cancel-after must be at least 1."); } });
        headers.Validators.Add(r =>
        {
            foreach (var h in r.GetValueOrDefault<string[]>() ?? [])
            {
                if (h.IndexOf(':', StringComparison.Ordinal) < 1)
                {
                    r.AddError($"--header '{h}' is not \"Name: value\".");
                }
            }
        });

        var command = new Command("bench", "Measure streaming latency of model endpoints and MCP servers: first partial, gaps, result, lost notifications, cancel latency; closed or open loop; compare targets.")
        {
            url, anthropic, responses, mcp, mcpStdio, compare, model, concurrency, rate, requests, duration, maxTokens, prompt, timeout,
            cancelAfter, cancelWait, tool, toolArgs, headers, labels, json, svg, apiKey, extra,
        };
        command.Validators.Add(r =>
        {
            // A command's own tokens hold no options: count the targets from the options' values.
            var stdio = r.GetValue(mcpStdio) ?? [];
            var count = new[] { url, anthropic, responses, mcp }.Sum(o => r.GetValue(o)?.Length ?? 0) + stdio.Length;
            if (count > 1 && r.GetValue(compare) is false)
            {
                r.AddError("Several targets given: add --compare to measure them one after another.");
            }

            foreach (var commandLine in stdio)
            {
                try
                {
                    if (CommandLineWords.Split(commandLine).Count == 0)
                    {
                        r.AddError("--mcp-stdio needs a command.");
                    }
                }
                catch (ArgumentException ex)
                {
                    r.AddError(ex.Message);
                }
            }
        });

        command.SetAction(async (parse, cancellationToken) =>
        {
            var targets = Targets(parse.Tokens);
            var names = parse.GetValue(labels) ?? [];
            targets = [.. targets.Select((t, i) => i < names.Length ? t with { Label = names[i] } : t)];
            if (targets.Count == 0)
            {
                targets = [new BenchTargetSpec(BenchTargetKind.ChatCompletions, Environment.GetEnvironmentVariable("TOKENFLOW_URL") is { Length: > 0 } env ? env : TokenflowCli.DefaultUrl)];
            }

            var c = parse.GetValue(concurrency);
            var d = parse.GetValue(duration);
            var settings = new BenchSettings
            {
                Targets = targets,
                Model = parse.GetValue(model)!,
                Concurrency = c,
                Rate = parse.GetValue(rate),
                Requests = parse.GetValue(requests) ?? (d is null ? Math.Max(100, 5 * c) : null),
                Duration = d,
                MaxTokens = parse.GetValue(maxTokens),
                Prompt = parse.GetValue(prompt)!,
                RequestTimeout = parse.GetValue(timeout) ?? TimeSpan.FromMinutes(2),
                CancelAfter = parse.GetValue(cancelAfter),
                CancelWait = parse.GetValue(cancelWait) ?? TimeSpan.FromSeconds(5),
                ApiKey = parse.GetValue(apiKey),
                Extra = parse.GetValue(extra),
                Headers = [.. (parse.GetValue(headers) ?? []).Select(h => new KeyValuePair<string, string>(h[..h.IndexOf(':', StringComparison.Ordinal)].Trim(), h[(h.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim()))],
                Tool = parse.GetValue(tool)!,
                ToolArguments = parse.GetValue(toolArgs),
            };
            return await RunAsync(console, settings, parse.GetValue(json), parse.GetValue(svg), cancellationToken);
        });
        return command;
    }

    public static async Task<int> RunAsync(CliConsole console, BenchSettings settings, bool json, FileInfo? svg, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var interrupt = console.OnInterrupt(stop.Cancel);
        var total = settings.Requests is { } n ? n.ToString("N0", CultureInfo.InvariantCulture) : "∞";
        var results = new List<BenchResult>();
        foreach (var spec in settings.Targets)
        {
            if (stop.IsCancellationRequested)
            {
                break;
            }

            var lastPartials = 0L;
            var lastElapsed = TimeSpan.Zero;
            var live = console.IsErrorTerminal;
            if (live)
            {
                await console.Error.WriteLineAsync($"bench {spec.KindName} {spec.Address} · {BenchReport.LoadText(settings)}");
            }

            var runner = new BenchRunner(settings, spec);
            var result = await runner.RunAsync(
                live
                    ? p =>
                    {
                        var window = (p.Elapsed - lastElapsed).TotalSeconds;
                        var perSecond = window > 0 ? (p.Partials - lastPartials) / window : 0;
                        (lastPartials, lastElapsed) = (p.Partials, p.Elapsed);
                        var line = string.Create(CultureInfo.InvariantCulture, $"{p.Elapsed.TotalSeconds,6:0.0}s  done {p.Completed:N0}/{total}  failed {p.Failed:N0}  in flight {p.InFlight:N0}  partials {p.Partials:N0}  {perSecond:N0}/s");
                        console.Error.Write("\r" + line.PadRight(100));
                    }
            : null,
                TimeSpan.FromSeconds(1),
                stop.Token);
            if (live)
            {
                await console.Error.WriteLineAsync();
            }

            results.Add(result);
        }

        if (results.Count == 0)
        {
            return 1;
        }

        await console.Out.WriteAsync(json ? BenchReport.Json(results) + Environment.NewLine : BenchReport.Table(results));
        await console.Out.FlushAsync(CancellationToken.None);
        if (svg is not null)
        {
            await File.WriteAllTextAsync(svg.FullName, BenchSvg.Render(results), CancellationToken.None);
        }

        return results.Any(r => r.AllFailed || r.ConnectError is not null) ? 1 : 0;
    }

    /// <summary>The targets in command-line order (so <c>--compare</c>'s first is the one named first).</summary>
    internal static List<BenchTargetSpec> Targets(IReadOnlyList<Token> tokens)
    {
        var targets = new List<BenchTargetSpec>();
        for (var i = 0; i < tokens.Count - 1; i++)
        {
            if (tokens[i].Type != TokenType.Option)
            {
                continue;
            }

            foreach (var (name, kind) in TargetOptions)
            {
                if (tokens[i].Value == name && tokens[i + 1].Type == TokenType.Argument)
                {
                    targets.Add(new BenchTargetSpec(kind, tokens[i + 1].Value));
                }
            }
        }

        return targets;
    }

    /// <summary>Reads 30s, 2m, 1h, 500ms, or a TimeSpan (hh:mm:ss).</summary>
    internal static TimeSpan? ParseDuration(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value.Trim() : string.Empty;
        (string Suffix, double Seconds)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        foreach (var (suffix, seconds) in units)
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(text[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value > 0)
            {
                return TimeSpan.FromSeconds(value * seconds);
            }
        }

        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) && span > TimeSpan.Zero)
        {
            return span;
        }

        result.AddError($"'{text}' is not a duration: use 30s, 2m, 500ms or hh:mm:ss.");
        return null;
    }

    /// <summary>Reads 50, 50/s or 2.5/s.</summary>
    internal static double? ParseRate(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value.Trim() : string.Empty;
        var number = text.EndsWith("/s", StringComparison.OrdinalIgnoreCase) ? text[..^2] : text;
        if (double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) && rate > 0 && double.IsFinite(rate))
        {
            return rate;
        }

        result.AddError($"--rate '{text}' is not a rate: use a number of requests per second, e.g. 50 or 50/s.");
        return null;
    }

    private static Option<string[]> HttpTargetOption(string name, string description)
    {
        var option = new Option<string[]>(name) { Description = description, HelpName = "URL", Arity = ArgumentArity.ZeroOrMore };
        option.Validators.Add(r =>
        {
            foreach (var text in r.GetValueOrDefault<string[]>() ?? [])
            {
                if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                {
                    r.AddError($"{name} '{text}' is not an http(s) URL.");
                }
            }
        });
        return option;
    }

    private static Option<JsonObject?> JsonObjectOption(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "JSON",
        CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "{}";
            try
            {
                if (JsonNode.Parse(text) is JsonObject obj)
                {
                    return obj;
                }
            }
            catch (System.Text.Json.JsonException)
            {
            }

            result.AddError($"{name} must be a JSON object (got '{text}').");
            return null;
        },
    };
}
