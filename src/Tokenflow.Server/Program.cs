using Tokenflow.Server.Hosting;
using Tokenflow.Server.Mcp;

// `--mcp-stdio`: serve MCP over stdin/stdout (for clients that start the server themselves).
if (args.Contains(TokenflowMcpStdio.Flag))
{
    await TokenflowMcpStdio.RunAsync(args);
    return;
}

var app = TokenflowApp.Build(args);
await app.RunAsync();
