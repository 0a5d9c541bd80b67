using Tokenflow.Server.Hosting;

namespace Tokenflow.Server.Mcp;

/// <summary>
/// Runs Tokenflow as an MCP server over stdio (<c>--mcp-stdio</c>), for clients that launch their
/// servers as child processes: the same services, tools and stream core as <c>/mcp</c>, no HTTP
/// listener. Standard output carries only MCP messages; logs go to standard error.
/// </summary>
public static class TokenflowMcpStdio
{
    /// <summary>The command-line flag that selects stdio mode.</summary>
    public const string Flag = "--mcp-stdio";

    /// <summary>
    /// Serves MCP on stdin/stdout until stdin closes or the process is stopped. <paramref name="args"/>
    /// are the server's (<c>--Tokenflow:Key value</c>, …); <see cref="Flag"/> among them is ignored.
    /// </summary>
    public static async Task RunAsync(string[] args)
    {
        using var host = Build(args, null, null);
        await host.RunAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Builds the stdio host; tests pass <paramref name="input"/> and <paramref name="output"/>
    /// streams in place of the process' own stdin and stdout.
    /// </summary>
    internal static IHost Build(string[] args, Stream? input, Stream? output)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            // The flag has no value; left in, the command-line configuration would read the next argument as its value.
            Args = args.Where(a => !string.Equals(a, Flag, StringComparison.Ordinal)).ToArray(),
            // Clients start stdio servers from any directory: read appsettings.json from beside the binary.
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole(options => options.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Services.AddTokenflow(builder.Configuration);
        var mcp = builder.Services.AddTokenflowMcpServer();
        if (input is not null && output is not null)
        {
            mcp.WithStreamServerTransport(input, output);
        }
        else
        {
            mcp.WithStdioServerTransport();
        }

        return builder.Build();
    }
}
