using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tokenflow.Benchmarks;

/// <summary>
/// What the gateway adds: a fast local OpenAI-compatible upstream (Kestrel, in this process) stamps each
/// token with the time it wrote it; the same client reads it directly and through a Tokenflow server
/// process configured with that upstream, in the same run. Reports TTFT and per-token delivery latency
/// (write → client receipt), p50/p99, both ways and the difference; then 1000 concurrent paced streams
/// through the gateway: tokens lost and the gateway process' resident memory per open stream.
/// Run: <c>dotnet run -c Release --project bench/Tokenflow.Benchmarks -- gateway [requests] [streams] [NAME=VALUE …]</c>
/// (needs <c>src/Tokenflow.Server</c> built in Release, which building this project does); each <c>NAME=VALUE</c> is
/// set in the gateway process' environment only (e.g. <c>DOTNET_gcServer=1</c>), so runtime settings can be
/// compared while the client and the upstream stay as they are.
/// </summary>
internal static class GatewayLatency
{
    private const int TokensPerRequest = 50;
    private const int PacedTokens = 100;
    private static readonly TimeSpan PacedGap = TimeSpan.FromMilliseconds(50);

    public static async Task RunAsync(int requests, int streams, IReadOnlyList<string> gatewayEnvironment)
    {
        await using var upstream = await StartUpstreamAsync();
        using var gateway = StartGateway(upstream, gatewayEnvironment);
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, UseProxy = false }) { Timeout = Timeout.InfiniteTimeSpan };
        await WaitUntilUpAsync(client, gateway.Url);

        var direct = $"{upstream.Url}v1/chat/completions";
        var proxied = $"{gateway.Url}v1/chat/completions";
        Console.WriteLine($"upstream {upstream.Url} (in-process Kestrel), gateway {gateway.Url} (Tokenflow.Server process {gateway.Process.Id}{(gatewayEnvironment.Count > 0 ? ", " + string.Join(' ', gatewayEnvironment) : string.Empty)})");
        Console.WriteLine($"client GC: {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")}, {System.Runtime.GCSettings.LatencyMode}; load average {File.ReadAllText("/proc/loadavg").Trim()}");

        // Warm both paths (JIT, connection pools), then interleave them request by request.
        for (var i = 0; i < 50; i++)
        {
            await MeasureAsync(client, direct, 0, null, null);
            await MeasureAsync(client, proxied, 0, null, null);
        }

        List<double> ttftDirect = [], ttftGateway = [], tokenDirect = [], tokenGateway = [];
        for (var i = 0; i < requests; i++)
        {
            await MeasureAsync(client, direct, 1, ttftDirect, tokenDirect);
            await MeasureAsync(client, proxied, 1, ttftGateway, tokenGateway);
        }

        Console.WriteLine();
        Console.WriteLine($"{requests} requests per path, {TokensPerRequest} tokens each, 1 ms apart; latency in ms");
        Console.WriteLine("| measure | direct p50 | direct p99 | gateway p50 | gateway p99 | added p50 | added p99 |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        Row("TTFT (request → first token)", ttftDirect, ttftGateway);
        Row("per token (upstream write → client)", tokenDirect, tokenGateway);

        await ConcurrentAsync(client, proxied, gateway.Process, streams);
    }

    private static void Row(string name, List<double> direct, List<double> gateway)
    {
        double d50 = P(direct, 0.5), d99 = P(direct, 0.99), g50 = P(gateway, 0.5), g99 = P(gateway, 0.99);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {d50:0.000} | {d99:0.000} | {g50:0.000} | {g99:0.000} | {g50 - d50:0.000} | {g99 - d99:0.000} |"));
    }

    private static double P(List<double> values, double p)
    {
        values.Sort();
        return values.Count == 0 ? double.NaN : values[Math.Min(values.Count - 1, (int)(p * values.Count))];
    }

    /// <summary>One streamed request; records TTFT and each token's write→receipt latency; returns the tokens received.</summary>
    private static async Task<int> MeasureAsync(HttpClient client, string url, int gapMs, List<double>? ttft, List<double>? perToken, int tokens = TokensPerRequest)
    {
        // The pace travels as Tokenflow's sim_tokens_per_second, which the gateway passes on to an upstream.
        var pace = gapMs > 0 ? $",\"sim_tokens_per_second\":{1000 / gapMs}" : string.Empty;
        var body = $$"""{"model":"fast/bench","messages":[{"role":"user","content":"hi"}],"stream":true,"max_tokens":{{tokens}}{{pace}}}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        var sent = Stopwatch.GetTimestamp();
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        var received = 0;
        var done = false;
        await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync(), static (_, data) => Parse(data)).EnumerateAsync())
        {
            var now = Stopwatch.GetTimestamp();
            if (item.Data == -1)
            {
                done = true;
                continue;
            }

            if (item.Data == 0)
            {
                continue;
            }

            if (received++ == 0)
            {
                ttft?.Add(Stopwatch.GetElapsedTime(sent, now).TotalMilliseconds);
            }

            perToken?.Add(Stopwatch.GetElapsedTime(item.Data, now).TotalMilliseconds);
        }

        return done ? received : -received;
    }

    /// <summary>The stamp in a chunk's content ("t&lt;timestamp&gt;"), 0 for chunks without one, -1 for [DONE].</summary>
    private static long Parse(ReadOnlySpan<byte> data)
    {
        if (data.SequenceEqual("[DONE]"u8))
        {
            return -1;
        }

        var at = data.IndexOf("\"content\":\"t"u8);
        if (at < 0)
        {
            return 0;
        }

        var digits = data[(at + 12)..];
        var end = digits.IndexOf((byte)'"');
        return long.Parse(Encoding.ASCII.GetString(digits[..end]), CultureInfo.InvariantCulture);
    }

    private static async Task ConcurrentAsync(HttpClient client, string url, Process gateway, int streams)
    {
        GC.Collect();
        var baseline = Rss(gateway);
        long peak = baseline;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, Rss(gateway));
                await Task.Delay(50);
            }
        });

        var started = Stopwatch.GetTimestamp();
        var results = await Task.WhenAll(Enumerable.Range(0, streams).Select(_ => MeasureAsync(client, url, (int)PacedGap.TotalMilliseconds, null, null, PacedTokens)));
        var elapsed = Stopwatch.GetElapsedTime(started);
        await sampling.CancelAsync();
        await sampler;

        var complete = results.Count(r => r == PacedTokens);
        var lost = (long)streams * PacedTokens - results.Sum(r => (long)Math.Abs(r));
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{streams} concurrent streams through the gateway, {PacedTokens} tokens each at {1000 / PacedGap.TotalMilliseconds:0} tokens/s: {complete} complete, {lost} tokens lost, {elapsed.TotalSeconds:0.0} s"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"gateway RSS {baseline / 1048576.0:0.0} MiB before, {peak / 1048576.0:0.0} MiB peak: {(peak - baseline) / 1024.0 / streams:0.0} KiB per open proxied stream (client and upstream connections included)"));
    }

    private static long Rss(Process process)
    {
        foreach (var line in File.ReadLines($"/proc/{process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }

    private static async Task<(WebApplication App, string Url)> StartUpstreamAsyncCore()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapPost("/v1/chat/completions", ServeAsync);
        await app.StartAsync();
        var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/";
        return (app, url);
    }

    private static async Task<Upstream> StartUpstreamAsync()
    {
        var (app, url) = await StartUpstreamAsyncCore();
        return new Upstream(app, url);
    }

    /// <summary>The fake upstream: an OpenAI chunk per token, its content the Stopwatch timestamp of its write.</summary>
    private static async Task ServeAsync(HttpContext context)
    {
        using var doc = await JsonDocument.ParseAsync(context.Request.Body);
        var tokens = doc.RootElement.GetProperty("max_tokens").GetInt32();
        var gap = doc.RootElement.TryGetProperty("sim_tokens_per_second", out var tps) ? (int)(1000 / tps.GetDouble()) : 0;
        context.Response.ContentType = "text/event-stream";
        var output = context.Response.BodyWriter;
        for (var i = 0; i < tokens; i++)
        {
            if (i > 0 && gap > 0)
            {
                await Task.Delay(gap);
            }

            var chunk = $$"""data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1,"model":"bench","choices":[{"index":0,"delta":{"content":"t{{Stopwatch.GetTimestamp()}}"},"finish_reason":null}]}""" + "\n\n";
            Encoding.UTF8.GetBytes(chunk, output);
            await output.FlushAsync();
        }

        Encoding.UTF8.GetBytes($$"""data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1,"model":"bench","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""" + "\n\n" + "data: [DONE]\n\n", output);
        await output.FlushAsync();
    }

    private static GatewayProcess StartGateway(Upstream upstream, IReadOnlyList<string> environment)
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Tokenflow.slnx")))
        {
            root = Path.GetDirectoryName(root.TrimEnd('/')) ?? throw new InvalidOperationException("Run from inside the repository.");
        }

        var dll = Path.Combine(root, "src/Tokenflow.Server/bin/Release/net10.0/Tokenflow.Server.dll");
        var port = FreePort();
        var info = new ProcessStartInfo("dotnet")
        {
            ArgumentList =
            {
                dll, "--urls", $"http://127.0.0.1:{port}", "--Logging:LogLevel:Default", "Warning", "--Tokenflow:EmbeddedModel", "false",
                "--Tokenflow:Upstreams:fast:Kind", "openai", "--Tokenflow:Upstreams:fast:Url", $"{upstream.Url}v1",
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var setting in environment)
        {
            var equals = setting.IndexOf('=', StringComparison.Ordinal);
            info.Environment[setting[..equals]] = setting[(equals + 1)..];
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the gateway.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"gateway: {e.Data}"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new GatewayProcess(process, $"http://127.0.0.1:{port}/");
    }

    private static async Task WaitUntilUpAsync(HttpClient client, string url)
    {
        for (var i = 0; i < 300; i++)
        {
            try
            {
                using var response = await client.GetAsync($"{url}v1/models");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("The gateway did not start within 30 s.");
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class Upstream(WebApplication app, string url) : IAsyncDisposable
    {
        public string Url { get; } = url;

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private sealed class GatewayProcess(Process process, string url) : IDisposable
    {
        public Process Process { get; } = process;

        public string Url { get; } = url;

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                Process.Kill();
                Process.WaitForExit();
            }

            Process.Dispose();
        }
    }
}
