using System.CommandLine;
using Tokenflow.Server.Mcp;

namespace Tokenflow.Cli.Mcp;

/// <summary>
/// <c>tokenflow mcp</c>: Tokenflow as an MCP server over stdio, for agents that launch their tools as
/// child processes. Standard output carries only MCP messages; logs go to standard error.
/// </summary>
internal static class McpCommand
{
    public static Command Create(string[] args)
    {
        var command = new Command("mcp", "Serve Tokenflow's MCP tools (generate, start_generation, read_stream, cancel_stream) over stdio. Any --Tokenflow:Key value setting is passed through.");

        // Configuration keys go to the host unparsed, as for serve.
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async _ =>
        {
            var index = Array.IndexOf(args, "mcp");
            await TokenflowMcpStdio.RunAsync(args[(index + 1)..]);
            return 0;
        });
        return command;
    }
}
