using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Tokenflow.Cli.Bench;

/// <summary>
/// <c>tokenflow bench</c>: load generator for any OpenAI-compatible streaming endpoint. Live progress goes to
/// stderr; the result (a table, or JSON with <c>--json</c>) to stdout. Ctrl-C stops it early and still reports.
/// </summary>
internal static class BenchCommand
{
    public static Command Create(CliConsole console)
    {
        var url = TokenflowCli.UrlOption("Server or endpoint address: http://host:port, …/v1 or …/v1/chat/completions (default $TOKENFLOW_URL or http://127.0.0.1:8080).");
        var model = new Option<string>("--model", "-m") { Description = "Model id.", DefaultValueFactory = _ => "sim" };
        var concurrency = new Option<int>("--concurrency", "-c") { Description = "Requests in flight at once (one connection each).", DefaultValueFactory = _ => 1 };
        var requests = new Option<int?>("--requests", "-n") { Description = "Requests to send in all (default: 5 per concurrent slot, at least 100, unless --duration is given)." };
        var duration = new Option<TimeSpan?>("--duration", "-d") { Description = "Stop starting requests after this long: 30s, 2m, 500ms or hh:mm:ss.", CustomParser = ParseDuration, HelpName = "TIME" };
        var maxTokens = new Option<int>("--max-tokens") { Description = "max_tokens of each request.", DefaultValueFactory = _ => 256 };
        var prompt = new Option<string>("--prompt") { Description = "The user message of each request.", DefaultValueFactory = _ => "Tell me about token streaming." };
        var timeout = new Option<TimeSpan?>("--timeout") { Description = "Give up on one request after this long (default 2m).", CustomParser = ParseDuration, HelpName = "TIME" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var apiKey = TokenflowCli.ApiKeyOption();
        var extra = TokenflowCli.ExtraOption();
        concurrency.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 1) { r.AddError("--concurrency must be at least 1."); } });
        requests.Validators.Add(r => { if (r.GetValueOrDefault<int?>() < 1) { r.AddError("--requests must be at least 1."); } });
        maxTokens.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 1) { r.AddError("--max-tokens must be at least 1."); } });

        var command = new Command("bench", "Load-test an OpenAI-compatible streaming endpoint: TTFT and inter-token latency percentiles, tokens/s, errors.")
        {
            url, model, concurrency, requests, duration, maxTokens, prompt, timeout, json, apiKey, extra,
        };

        command.SetAction(async (parse, cancellationToken) =>
        {
            var c = parse.GetValue(concurrency);
            var d = parse.GetValue(duration);
            var settings = new BenchSettings
            {
                Endpoint = BenchSettings.EndpointFor(parse.GetValue(url)!),
                Model = parse.GetValue(model)!,
                Concurrency = c,
                Requests = parse.GetValue(requests) ?? (d is null ? Math.Max(100, 5 * c) : null),
                Duration = d,
                MaxTokens = parse.GetValue(maxTokens),
                Prompt = parse.GetValue(prompt)!,
                RequestTimeout = parse.GetValue(timeout) ?? TimeSpan.FromMinutes(2),
                ApiKey = parse.GetValue(apiKey),
                Extra = parse.GetValue(extra),
            };
            return await RunAsync(console, settings, parse.GetValue(json), cancellationToken);
        });
        return command;
    }

    public static async Task<int> RunAsync(CliConsole console, BenchSettings settings, bool json, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var interrupt = console.OnInterrupt(stop.Cancel);
        var runner = new BenchRunner(settings);
        var total = settings.Requests is { } n ? n.ToString("N0", CultureInfo.InvariantCulture) : "∞";
        var lastTokens = 0L;
        var lastElapsed = TimeSpan.Zero;
        await console.Error.WriteLineAsync($"bench {settings.Endpoint} · model {settings.Model} · concurrency {settings.Concurrency} · requests {total}{(settings.Duration is { } d ? $" · duration {d}" : string.Empty)} · max_tokens {settings.MaxTokens}");
        var result = await runner.RunAsync(
            p =>
            {
                var window = (p.Elapsed - lastElapsed).TotalSeconds;
                var rate = window > 0 ? (p.Tokens - lastTokens) / window : 0;
                (lastTokens, lastElapsed) = (p.Tokens, p.Elapsed);
                var line = string.Create(CultureInfo.InvariantCulture, $"{p.Elapsed.TotalSeconds,6:0.0}s  done {p.Completed:N0}/{total}  failed {p.Failed:N0}  in flight {p.InFlight:N0}  tokens {p.Tokens:N0}  {rate:N0} tok/s");
                if (console.IsErrorTerminal)
                {
                    console.Error.Write("\r" + line.PadRight(100));
                }
                else
                {
                    console.Error.WriteLine(line);
                }
            },
            TimeSpan.FromSeconds(1),
            stop.Token);
        if (console.IsErrorTerminal)
        {
            await console.Error.WriteLineAsync();
        }

        await console.Out.WriteAsync(json ? result.ToJson() + Environment.NewLine : result.ToTable());
        await console.Out.FlushAsync(CancellationToken.None);
        return result.Completed == 0 && result.Failed > 0 ? 1 : 0;
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
}
