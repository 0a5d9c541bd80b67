using ModelContextProtocol.Client;
using Tokenflow.Server.Tests.Mcp;

namespace Tokenflow.Server.Tests.Operations;

/// <summary>The requests-per-minute limit on MCP counts tool calls (through the official SDK client), not HTTP requests.</summary>
public sealed class McpRateLimitTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Tool_calls_over_the_limit_get_a_tool_error_while_other_requests_are_free_then_recover()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:RateLimits:RequestsPerMinute", "3", "--Tokenflow:RateLimits:Window", "00:00:05"]);
        // Connecting takes initialize, notifications/initialized and the GET stream: none of them counts.
        await using var client = await McpTestClient.ConnectAsync(server);
        for (var i = 0; i < 3; i++)
        {
            Assert.NotEmpty(await client.ListToolsAsync());
        }

        var deadline = DateTime.UtcNow + Timeout;
        var admitted = 0;
        ModelContextProtocol.Protocol.CallToolResult refused;
        while (true)
        {
            Assert.True(DateTime.UtcNow < deadline, "no tool call was refused");
            var result = await client.CallAsync("generate", new { model = "sim", prompt = "hi", max_tokens = 1 });
            if (result.IsError is true)
            {
                refused = result;
                break;
            }

            admitted++;
        }

        // At least the limit's worth of calls got through (more only if a window ended in between).
        Assert.True(admitted >= 3, $"only {admitted} calls before the refusal: requests other than tools/call were counted");
        Assert.Contains("3 requests", refused.Text(), StringComparison.Ordinal);
        var error = refused.StructuredContent!.Value.GetProperty("error");
        Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
        Assert.Equal("requests", error.GetProperty("type").GetString());
        Assert.InRange(error.GetProperty("retry_after").GetInt64(), 1, 5);

        // Listing is still free while calls are refused; calls are admitted again once the window ends.
        Assert.NotEmpty(await client.ListToolsAsync());
        while (true)
        {
            Assert.True(DateTime.UtcNow < deadline, "the limit did not recover");
            var result = await client.CallAsync("generate", new { model = "sim", prompt = "hi", max_tokens = 1 });
            if (result.IsError is not true)
            {
                Assert.Equal("length", result.Structured().GetProperty("finish_reason").GetString());
                break;
            }

            await Task.Delay(100);
        }
    }
}
