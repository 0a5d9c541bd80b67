using System.CommandLine;
using Tokenflow.Cli.Bench;
using Tokenflow.Cli.Chat;
using Tokenflow.Cli.Mcp;
using Tokenflow.Cli.Serve;

namespace Tokenflow.Cli;

/// <summary>The <c>tokenflow</c> command line: <c>serve</c>, <c>chat</c>, <c>bench</c>, <c>mcp</c>.</summary>
internal static class TokenflowCli
{
    /// <summary>The server address commands use when neither <c>--url</c> nor <c>TOKENFLOW_URL</c> is given.</summary>
    public const string DefaultUrl = "http://127.0.0.1:8080";

    public static RootCommand Create(string[] args, CliConsole console)
    {
        var root = new RootCommand("Tokenflow: token streaming for AI agents — server, terminal chat, load generator and MCP.");
        root.Subcommands.Add(ServeCommand.Create(args));
        root.Subcommands.Add(ChatCommand.Create(console));
        root.Subcommands.Add(BenchCommand.Create(console));
        root.Subcommands.Add(McpCommand.Create(args));
        ServeHelpAction.Install(root);
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/>; returns the exit code.</summary>
    public static Task<int> RunAsync(string[] args, CliConsole console, CancellationToken cancellationToken = default)
    {
        var parse = Create(args, console).Parse(args);

        // Ctrl-C is handled per command (CliConsole): serve leaves it to the host, chat and bench cancel their streams.
        return parse.InvokeAsync(new InvocationConfiguration { Output = console.Out, Error = console.Error, ProcessTerminationTimeout = null }, cancellationToken);
    }

    /// <summary>The <c>--url</c> option shared by the client commands.</summary>
    public static Option<Uri> UrlOption(string description) => new("--url")
    {
        Description = description,
        HelpName = "URL",
        DefaultValueFactory = _ => new Uri(Environment.GetEnvironmentVariable("TOKENFLOW_URL") is { Length: > 0 } url ? url : DefaultUrl),
        CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : DefaultUrl;
            if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
            {
                return uri;
            }

            result.AddError($"'{text}' is not an http(s) URL.");
            return null;
        },
    };

    /// <summary>The <c>--api-key</c> option (default: <c>TOKENFLOW_API_KEY</c>, then <c>OPENAI_API_KEY</c>).</summary>
    public static Option<string?> ApiKeyOption() => new("--api-key")
    {
        Description = "Bearer token to send (default: $TOKENFLOW_API_KEY, then $OPENAI_API_KEY).",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("TOKENFLOW_API_KEY") is { Length: > 0 } key ? key : Environment.GetEnvironmentVariable("OPENAI_API_KEY"),
    };

    /// <summary>The <c>--extra</c> option: a JSON object merged into each request body.</summary>
    public static Option<System.Text.Json.Nodes.JsonObject?> ExtraOption() => new("--extra")
    {
        Description = "JSON object of extra request fields, e.g. '{\"sim_tokens_per_second\":50}'.",
        HelpName = "JSON",
        CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "{}";
            try
            {
                if (System.Text.Json.Nodes.JsonNode.Parse(text) is System.Text.Json.Nodes.JsonObject obj)
                {
                    return obj;
                }
            }
            catch (System.Text.Json.JsonException)
            {
            }

            result.AddError($"--extra must be a JSON object (got '{text}').");
            return null;
        },
    };
}
