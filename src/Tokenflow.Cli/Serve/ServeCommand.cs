using System.CommandLine;
using Microsoft.Extensions.Hosting;
using Tokenflow.Server.Hosting;

namespace Tokenflow.Cli.Serve;

/// <summary><c>tokenflow serve</c>: runs the server, exactly as <c>dotnet run --project src/Tokenflow.Server</c> does.</summary>
internal static class ServeCommand
{
    public static Command Create(string[] args)
    {
        var command = new Command("serve", $"Run the Tokenflow server (default {TokenflowApp.DefaultUrl}). Every setting below is passed through to the server.")
        {
            new Option<string>("--urls") { Description = "Addresses to listen on, e.g. http://127.0.0.1:8080 (also ASPNETCORE_URLS).", HelpName = "URLS" },
            new Option<string>("--model") { Description = "A GGUF file, or hf:<repo>/<file>.gguf, to serve besides the built-in models.", HelpName = "PATH|hf:…" },
        };

        // Configuration keys (--Tokenflow:HeartbeatInterval 00:00:05, --Logging:…) go to the host unparsed.
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (_, cancellationToken) =>
        {
            var index = Array.IndexOf(args, "serve");
            var app = TokenflowApp.Build(args[(index + 1)..]);
            await ((IHost)app).RunAsync(cancellationToken);
            return 0;
        });
        return command;
    }
}
