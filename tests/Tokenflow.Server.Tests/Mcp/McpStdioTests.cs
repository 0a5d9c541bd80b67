using System.IO.Pipelines;
using Microsoft.Extensions.Hosting;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Tokenflow.Core.Sim;
using Tokenflow.Server.Mcp;

namespace Tokenflow.Server.Tests.Mcp;

public sealed class McpStdioTests
{
    [Fact]
    public async Task The_stdio_host_serves_the_same_tools()
    {
        var toServer = new Pipe();
        var toClient = new Pipe();
        using var host = TokenflowMcpStdio.Build(["--Logging:LogLevel:Default", "Warning", "--Tokenflow:EmbeddedModel", "false"], toServer.Reader.AsStream(), toClient.Writer.AsStream());
        await host.StartAsync();
        try
        {
            await using (var client = await McpClient.CreateAsync(new StreamClientTransport(toServer.Writer.AsStream(), toClient.Reader.AsStream())))
            {
                var tools = await client.ListToolsAsync();
                Assert.Equal(["cancel_stream", "generate", "read_stream", "start_generation"], tools.Select(t => t.Name).Order());

                await using var progress = new McpTestClient.ProgressCollector(client);
                var result = await client.CallAsync("generate", new { model = "sim", prompt = "x", max_tokens = 12, seed = 4 }, progress);
                var text = result.Structured().GetProperty("text").GetString()!;
                Assert.Equal(SimBackend.ExpectedText(4, 12), text);
                await progress.WaitUntilAsync(p => p.Text == text, TimeSpan.FromSeconds(10));
            }
        }
        finally
        {
            await host.StopAsync();
        }
    }
}
