using System.CommandLine;
using System.Text.Json.Nodes;
using Tokenflow.Client;

namespace Tokenflow.Cli.Chat;

/// <summary>
/// <c>tokenflow chat ["prompt"]</c>: streams a completion to stdout as tokens arrive, then a one-line summary
/// (time to first token, tokens, tokens/s) on stderr. Ctrl-C cancels the stream on the server. Without a
/// prompt it is interactive: one turn per line, the conversation kept, <c>/reset</c> to start over.
/// </summary>
internal static class ChatCommand
{
    public static Command Create(CliConsole console)
    {
        var prompt = new Argument<string?>("prompt") { Description = "What to send; omit for an interactive session.", Arity = ArgumentArity.ZeroOrOne };
        var url = TokenflowCli.UrlOption("Server address (default $TOKENFLOW_URL or http://127.0.0.1:8080).");
        var model = new Option<string?>("--model", "-m") { Description = "Model id (default: the server's first model)." };
        var maxTokens = new Option<int?>("--max-tokens") { Description = "Most tokens to generate." };
        var temperature = new Option<float?>("--temperature") { Description = "Sampling temperature." };
        var seed = new Option<long?>("--seed") { Description = "Seed for reproducible output." };
        var system = new Option<string?>("--system") { Description = "A system message to start the conversation with." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per answer (text, stream id, finish reason, timings, usage) instead of streaming text." };
        var apiKey = TokenflowCli.ApiKeyOption();
        var extra = TokenflowCli.ExtraOption();
        var command = new Command("chat", "Stream a chat completion to the terminal; Ctrl-C cancels it on the server.")
        {
            prompt, url, model, maxTokens, temperature, seed, system, json, apiKey, extra,
        };

        command.SetAction(async (parse, cancellationToken) =>
        {
            var settings = new ChatSettings
            {
                Url = parse.GetValue(url)!,
                Model = parse.GetValue(model),
                MaxTokens = parse.GetValue(maxTokens),
                Temperature = parse.GetValue(temperature),
                Seed = parse.GetValue(seed),
                System = parse.GetValue(system),
                Json = parse.GetValue(json),
                ApiKey = parse.GetValue(apiKey),
                Extra = parse.GetValue(extra),
            };
            return await new ChatSession(console, settings).RunAsync(parse.GetValue(prompt), cancellationToken);
        });
        return command;
    }
}

/// <summary>The options of one <c>chat</c> run.</summary>
internal sealed class ChatSettings
{
    public required Uri Url { get; init; }

    public string? Model { get; init; }

    public int? MaxTokens { get; init; }

    public float? Temperature { get; init; }

    public long? Seed { get; init; }

    public string? System { get; init; }

    public bool Json { get; init; }

    public string? ApiKey { get; init; }

    public JsonObject? Extra { get; init; }
}
