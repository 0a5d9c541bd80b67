using System.Diagnostics;
using System.Text.Json;

namespace Tokenflow.Cli.Tests.Mcp;

public sealed class McpCommandTests
{
    [Fact]
    public async Task Mcp_answers_initialize_and_lists_the_generate_tool_over_stdio()
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "tokenflow.dll"), "mcp", "--Logging:LogLevel:Default", "Warning" },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(40));
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.StandardInput.WriteLineAsync("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"cli-test","version":"1.0"}}}""");
            await process.StandardInput.FlushAsync();
            var initialize = JsonDocument.Parse(await process.StandardOutput.ReadLineAsync(timeout.Token) ?? "null").RootElement;
            Assert.Equal(1, initialize.GetProperty("id").GetInt32());
            Assert.True(initialize.GetProperty("result").TryGetProperty("serverInfo", out _));

            await process.StandardInput.WriteLineAsync("""{"jsonrpc":"2.0","method":"notifications/initialized"}""");
            await process.StandardInput.WriteLineAsync("""{"jsonrpc":"2.0","id":2,"method":"tools/list"}""");
            await process.StandardInput.FlushAsync();
            var tools = JsonDocument.Parse(await process.StandardOutput.ReadLineAsync(timeout.Token) ?? "null").RootElement;
            var names = tools.GetProperty("result").GetProperty("tools").EnumerateArray().Select(t => t.GetProperty("name").GetString()).ToList();
            Assert.Contains("generate", names);

            // Closing stdin ends the server.
            process.StandardInput.Close();
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        Assert.DoesNotContain("Unhandled", await stderr, StringComparison.Ordinal);
    }
}
