using System.Text.Json;

namespace Tokenflow.Cli.Tests.Bench;

public sealed class BenchTargetsTests
{
    private const string Paced = """{"sim_tokens_per_second":50}""";

    [Fact]
    public async Task Bench_measures_Tokenflows_MCP_generate_progress_gaps_no_loss_and_cancel_latency()
    {
        // Stateful sessions, so the SDK client's notifications/cancelled reaches the running call.
        await using var server = await TestServer.StartAsync(["--Tokenflow:Mcp:SessionMode", "StatefulForInitializeClients"]);
        var mcp = server.Address + "mcp";
        var (code, run) = await CliRun.RunAsync("bench", "--mcp", mcp, "-c", "2", "-n", "6", "--max-tokens", "12", "--extra", Paced, "--json");

        Assert.Equal(0, code);
        var target = JsonDocument.Parse(run.Out).RootElement.GetProperty("targets")[0];
        Assert.Equal("mcp-http", target.GetProperty("kind").GetString());
        Assert.Equal("generate", target.GetProperty("tool").GetString());
        Assert.Equal(6, target.GetProperty("requests").GetProperty("completed").GetInt32());
        Assert.Equal(6 * 12, target.GetProperty("partials").GetInt32());
        Assert.Equal(0, target.GetProperty("lost").GetInt32());
        Assert.Equal(6, target.GetProperty("first_partial_ms").GetProperty("samples").GetInt32());
        Assert.InRange(target.GetProperty("gap_ms").GetProperty("p50").GetDouble(), 10, 40);

        // Cancel: notifications/cancelled, with the call's response kept open to see the server's last byte. (Measured
        // here: Tokenflow's generate runs on to its end after it — it stops on a closed response — so the figure is
        // the rest of the generation, 40 tokens at 50/s at most; the bench reports what the server does.)
        var (cancelCode, cancelRun) = await CliRun.RunAsync("bench", "--mcp", mcp, "-n", "3", "--max-tokens", "40", "--extra", Paced, "--cancel-after", "3", "--json");
        Assert.Equal(0, cancelCode);
        var cancelled = JsonDocument.Parse(cancelRun.Out).RootElement.GetProperty("targets")[0];
        Assert.Equal(3, cancelled.GetProperty("requests").GetProperty("cancelled").GetInt32());
        Assert.Equal(0, cancelled.GetProperty("cancel_unconfirmed").GetInt32());
        Assert.Equal(3, cancelled.GetProperty("cancel_ms").GetProperty("samples").GetInt32());
        Assert.InRange(cancelled.GetProperty("cancel_ms").GetProperty("max").GetDouble(), 0, 5_000);
        Assert.Equal(0, cancelled.GetProperty("lost").GetInt32());
    }

    [Fact]
    public async Task Compare_runs_the_OpenAI_Anthropic_and_Responses_doors_side_by_side_and_draws_an_svg()
    {
        await using var server = await TestServer.StartAsync();
        var svg = Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}.svg");
        try
        {
            var address = server.Address.ToString();
            var (code, run) = await CliRun.RunAsync(
                "bench", "--compare", "--url", address, "--anthropic", address, "--responses", address,
                "-n", "4", "--max-tokens", "100", "--extra", Paced, "--cancel-after", "5", "--svg", svg, "--json", "--label", "chat", "--label", "messages");

            Assert.Equal(0, code);
            var targets = JsonDocument.Parse(run.Out).RootElement.GetProperty("targets").EnumerateArray().ToList();
            Assert.Equal(["openai-chat", "anthropic-messages", "openai-responses"], targets.Select(t => t.GetProperty("kind").GetString()));
            foreach (var t in targets)
            {
                Assert.Equal(4, t.GetProperty("requests").GetProperty("cancelled").GetInt32());
                Assert.Equal(0, t.GetProperty("requests").GetProperty("failed").GetInt32());
                Assert.Equal(4, t.GetProperty("cancel_ms").GetProperty("samples").GetInt32());
                Assert.Equal(0, t.GetProperty("cancel_unconfirmed").GetInt32());
                Assert.InRange(t.GetProperty("cancel_ms").GetProperty("max").GetDouble(), 0, 2_000);
                // Few gaps per call, and tokens of a call that warmed up late arrive together (0 ms): p90 is the pace.
                Assert.InRange(t.GetProperty("gap_ms").GetProperty("p90").GetDouble(), 10, 500);
            }

            Assert.Equal(["chat", "messages", $"openai-responses {address}v1/responses"], targets.Select(t => t.GetProperty("name").GetString()));
            Assert.False(targets[0].TryGetProperty("ratio_to_first", out _));
            // The first partial always takes time, so its ratio is a number; a gap ratio is null when the first target's
            // gap p50 is 0 (paced tokens of a call that started late arrive together), never a division by zero.
            var ratios = targets[1].GetProperty("ratio_to_first");
            Assert.True(ratios.GetProperty("first_partial_p50").GetDouble() > 0);
            Assert.Contains(ratios.GetProperty("gap_p50").ValueKind, new[] { JsonValueKind.Number, JsonValueKind.Null });

            var drawing = await File.ReadAllTextAsync(svg);
            Assert.StartsWith("<svg", drawing, StringComparison.Ordinal);
            Assert.Equal(6, drawing.Split("<polyline").Length - 1);
            Assert.Contains(">messages<", drawing, StringComparison.Ordinal);

            var (_, table) = await CliRun.RunAsync("bench", "--compare", "--url", address, "--responses", address, "-n", "2", "--max-tokens", "5", "--extra", Paced);
            Assert.Contains(table.Out.Split('\n'), l => l.StartsWith("partials/s", StringComparison.Ordinal) && l.Contains("x)", StringComparison.Ordinal));
            Assert.Contains(table.Out.Split('\n'), l => l.StartsWith("gap p50 ms", StringComparison.Ordinal));
            Assert.Contains(table.Out.Split('\n'), l => l.StartsWith("  [2] openai-responses ", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(svg);
        }
    }
}
