using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Tokenflow.Cli.Bench;

namespace Tokenflow.Cli.Tests.Bench;

public sealed class BenchCommandTests
{
    [Fact]
    public async Task Bench_json_counts_requests_tokens_and_latency_percentiles()
    {
        await using var server = await TestServer.StartAsync();
        var (code, run) = await CliRun.RunAsync("bench", "--url", server.Address.ToString(), "--model", "sim", "--concurrency", "4", "--requests", "20", "--max-tokens", "16", "--json");

        Assert.Equal(0, code);
        using var json = JsonDocument.Parse(run.Out);
        Assert.Equal("closed", json.RootElement.GetProperty("load").GetProperty("shape").GetString());
        Assert.Equal(4, json.RootElement.GetProperty("load").GetProperty("concurrency").GetInt32());
        var root = json.RootElement.GetProperty("targets").EnumerateArray().Single();
        Assert.Equal("openai-chat", root.GetProperty("kind").GetString());
        Assert.Equal(20, root.GetProperty("requests").GetProperty("completed").GetInt32());
        Assert.Equal(0, root.GetProperty("requests").GetProperty("failed").GetInt32());
        Assert.Equal(20 * 16, root.GetProperty("tokens").GetInt64());
        Assert.True(root.GetProperty("tokens_per_second").GetDouble() > 0);
        Assert.EndsWith("/v1/chat/completions", root.GetProperty("url").GetString(), StringComparison.Ordinal);

        var ttft = root.GetProperty("first_partial_ms");
        Assert.Equal(20, ttft.GetProperty("samples").GetInt32());
        Assert.True(ttft.GetProperty("p50").GetDouble() > 0);
        Assert.True(ttft.GetProperty("p50").GetDouble() <= ttft.GetProperty("p90").GetDouble());
        Assert.True(ttft.GetProperty("p90").GetDouble() <= ttft.GetProperty("p99").GetDouble());
        Assert.True(ttft.GetProperty("p99").GetDouble() <= ttft.GetProperty("p99_9").GetDouble());
        Assert.True(ttft.GetProperty("p99_9").GetDouble() <= ttft.GetProperty("max").GetDouble());
        Assert.True(root.GetProperty("gap_ms").GetProperty("samples").GetInt32() >= 20 * 15);
        Assert.Equal(20, root.GetProperty("result_ms").GetProperty("samples").GetInt32());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("lost").ValueKind);
        Assert.Empty(root.GetProperty("errors").EnumerateObject());

        // Not a terminal: no live progress.
        Assert.Equal(string.Empty, run.Error);
    }

    [Fact]
    public async Task Bench_prints_a_latency_table_and_measures_paced_inter_token_gaps()
    {
        await using var server = await TestServer.StartAsync();
        // The sim keeps its schedule, so a stall while the first requests warm up (JIT on both sides) arrives as
        // a burst of tokens with 0 ms gaps: warm the server up first, and run enough requests that warm-up
        // bursts cannot make the median.
        using (var warmUp = await server.Client.PostAsync("/v1/chat/completions", new StringContent("""{"model":"sim","messages":[{"role":"user","content":"hi"}],"max_tokens":2}""", System.Text.Encoding.UTF8, "application/json")))
        {
            warmUp.EnsureSuccessStatusCode();
        }

        var (code, run) = await CliRun.RunAsync("bench", "--url", server.Address + "v1", "-c", "2", "-n", "12", "--max-tokens", "10", "--extra", """{"sim_tokens_per_second":100}""");

        Assert.Equal(0, code);
        var lines = run.Out.Split('\n');
        Assert.Contains(lines, l => l.StartsWith("requests   12 ok, 0 failed", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("tokens     120 (", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("latency (ms)", StringComparison.Ordinal) && l.Contains("p50", StringComparison.Ordinal) && l.Contains("p99", StringComparison.Ordinal));
        var itl = lines.Single(l => l.StartsWith("gap ", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var p50 = double.Parse(itl[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(p50, 5, 30);
        Assert.Contains(lines, l => l.StartsWith("first partial", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("result", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Bench_with_a_duration_stops_starting_requests_when_it_ends()
    {
        await using var server = await TestServer.StartAsync();
        var (code, run) = await CliRun.RunAsync("bench", "--url", server.Address.ToString(), "-c", "2", "--duration", "700ms", "--max-tokens", "5", "--extra", """{"sim_tokens_per_second":50}""", "--json");

        Assert.Equal(0, code);
        var root = JsonDocument.Parse(run.Out).RootElement.GetProperty("targets")[0];
        Assert.InRange(root.GetProperty("duration_s").GetDouble(), 0.6, 5);
        Assert.True(root.GetProperty("requests").GetProperty("completed").GetInt32() >= 2);
    }

    [Fact]
    public async Task Bench_counts_failed_requests_by_kind()
    {
        using var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();

        var (code, run) = await CliRun.RunAsync("bench", "--url", $"http://127.0.0.1:{port}", "-c", "2", "-n", "3", "--json");
        Assert.Equal(1, code);
        var root = JsonDocument.Parse(run.Out).RootElement.GetProperty("targets")[0];
        Assert.Equal(3, root.GetProperty("requests").GetProperty("failed").GetInt32());
        Assert.Equal(3, root.GetProperty("errors").GetProperty("http_ConnectionError").GetInt32());

        await using var server = await TestServer.StartAsync();
        var (_, notFound) = await CliRun.RunAsync("bench", "--url", server.Address.ToString(), "--model", "nope", "-n", "2", "--json");
        Assert.Equal(2, JsonDocument.Parse(notFound.Out).RootElement.GetProperty("targets")[0].GetProperty("errors").GetProperty("http_404").GetInt32());
    }

    [Fact]
    public void Several_targets_need_compare_and_bad_values_get_clear_errors()
    {
        var cli = TokenflowCli.Create([], new CliRun().Console);
        Assert.Contains(cli.Parse(["bench", "--url", "http://127.0.0.1:1", "--mcp", "http://127.0.0.1:1/mcp"]).Errors, e => e.Message.Contains("--compare", StringComparison.Ordinal));
        Assert.Empty(cli.Parse(["bench", "--compare", "--url", "http://127.0.0.1:1", "--mcp", "http://127.0.0.1:1/mcp"]).Errors);
        Assert.Contains(cli.Parse(["bench", "--rate", "fast"]).Errors, e => e.Message.Contains("is not a rate", StringComparison.Ordinal));
        Assert.Contains(cli.Parse(["bench", "--mcp", "ftp://x"]).Errors, e => e.Message.Contains("not an http(s) URL", StringComparison.Ordinal));
        Assert.Contains(cli.Parse(["bench", "--mcp-stdio", "node 'unclosed"]).Errors, e => e.Message.Contains("Unclosed", StringComparison.Ordinal));
        Assert.Contains(cli.Parse(["bench", "--header", "novalue"]).Errors, e => e.Message.Contains("Name: value", StringComparison.Ordinal));
        Assert.Contains(cli.Parse(["bench", "--mcp", "http://127.0.0.1:1/mcp", "--args", "[1]"]).Errors, e => e.Message.Contains("JSON object", StringComparison.Ordinal));
        Assert.Equal(50, cli.Parse(["bench", "--rate", "50/s"]).GetValue<double?>("--rate"));

        var order = BenchCommand.Targets(cli.Parse(["bench", "--compare", "--mcp", "http://a/mcp", "-c", "2", "--url", "http://b", "--mcp-stdio", "node s.mjs"]).Tokens);
        Assert.Equal([BenchTargetKind.Mcp, BenchTargetKind.ChatCompletions, BenchTargetKind.McpStdio], order.Select(t => t.Kind));
        Assert.Equal(["node", "s.mjs", "a b", "c\"d"], CommandLineWords.Split("node s.mjs 'a b' \"c\\\"d\""));
    }

    [Theory]
    [InlineData("30s", 30_000)]
    [InlineData("2m", 120_000)]
    [InlineData("250ms", 250)]
    [InlineData("00:00:05", 5_000)]
    public void Durations_parse_in_short_and_TimeSpan_forms(string text, int milliseconds)
    {
        var parse = TokenflowCli.Create([], new CliRun().Console).Parse(["bench", "--duration", text]);
        Assert.Empty(parse.Errors);
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), parse.GetValue<TimeSpan?>("--duration"));
    }
}
