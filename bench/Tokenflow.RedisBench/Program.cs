// Tokens per second through one Tokenflow process with the memory store and with the Redis store,
// at several concurrencies, in one run on one machine. Starts its own redis-server (or uses
// --redis host:port), hosts the server in-process on loopback, and streams sim-model completions
// (sim_tokens_per_second = 0: as fast as possible) with a real HttpClient.
//
//   dotnet run -c Release --project bench/Tokenflow.RedisBench -- [--seconds 5] [--warmup 2]
//       [--max-tokens 1000] [--concurrency 1,100] [--rounds 4] [--redis host:port]
//       [--pace TOKENS_PER_SECOND]   (per stream; default 0 = as fast as possible)
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using Tokenflow.Server.Hosting;

var options = Args.Parse(args);
Process? redisProcess = null;
var redis = options.Redis;
if (redis is null)
{
    var port = FreePort();
    redisProcess = Process.Start(new ProcessStartInfo("redis-server", $"--port {port} --bind 127.0.0.1 --save \"\" --appendonly no") { RedirectStandardOutput = true, UseShellExecute = false })!;
    redis = $"127.0.0.1:{port}";
    await Task.Delay(300);
}

try
{
    await using var admin = await ConnectionMultiplexer.ConnectAsync(redis + ",allowAdmin=true");
    Console.WriteLine($"tokens/s, sim model, max_tokens={options.MaxTokens}, sim_tokens_per_second={options.Pace}, {options.Seconds}s per run after {options.Warmup}s warm-up, {Environment.ProcessorCount} cores, .NET {Environment.Version}");
    Console.WriteLine("| store | concurrency | round | tokens/s | requests/s | Redis CPU | Redis cmds/s |");
    Console.WriteLine("|---|---|---|---|---|---|---|");
    var results = new Dictionary<(string, int), List<double>>();
    // Warm both paths up once (JIT tiers, connection pools) before anything is measured.
    foreach (var store in new[] { "memory", redis })
    {
        await RunAsync(store, options.Concurrency.Max(), options with { Seconds = options.Warmup }, admin, redisProcess);
    }

    for (var round = 1; round <= options.Rounds; round++)
    {
        foreach (var concurrency in options.Concurrency)
        {
            // Alternate which store goes first, so drift in machine load does not favour one.
            foreach (var store in round % 2 == 1 ? new[] { "memory", redis } : new[] { redis, "memory" })
            {
                var name = store == "memory" ? "memory" : "redis";
                var run = await RunAsync(store, concurrency, options, admin, redisProcess);
                (results.TryGetValue((name, concurrency), out var list) ? list : results[(name, concurrency)] = []).Add(run.TokensPerSecond);
                Console.WriteLine($"| {name} | {concurrency} | {round} | {run.TokensPerSecond:N0} | {run.RequestsPerSecond:N1} | {(name == "redis" ? $"{run.RedisCpu:P0}" : "-")} | {(name == "redis" ? $"{run.RedisCommandsPerSecond:N0}" : "-")} |");
            }
        }
    }

    Console.WriteLine();
    Console.WriteLine("| concurrency | memory tokens/s (mean) | redis tokens/s (mean) | redis / memory |");
    Console.WriteLine("|---|---|---|---|");
    foreach (var concurrency in options.Concurrency)
    {
        var memory = results[("memory", concurrency)].Average();
        var viaRedis = results[("redis", concurrency)].Average();
        Console.WriteLine($"| {concurrency} | {memory:N0} | {viaRedis:N0} | {viaRedis / memory:P0} |");
    }
}
finally
{
    redisProcess?.Kill();
}

static async Task<Run> RunAsync(string store, int concurrency, Args options, ConnectionMultiplexer admin, Process? redisProcess)
{
    var app = TokenflowApp.Build(["--urls", "http://127.0.0.1:0", "--Tokenflow:Store", store, "--Logging:LogLevel:Default", "Warning", "--Tokenflow:Streams:CompletedTtl", "00:00:30"]);
    await app.StartAsync();
    try
    {
        var address = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024, PooledConnectionLifetime = TimeSpan.FromMinutes(10) }) { BaseAddress = new Uri(address), Timeout = TimeSpan.FromMinutes(5) };
        var body = Encoding.UTF8.GetBytes($$"""{"model":"sim","messages":[{"role":"user","content":"hi"}],"stream":true,"max_tokens":{{options.MaxTokens}},"sim_tokens_per_second":{{options.Pace}}}""");

        await LoadAsync(client, body, concurrency, TimeSpan.FromSeconds(options.Warmup));
        var server = admin.GetServers()[0];
        var commandsBefore = Commands(await server.InfoAsync("stats"));
        var cpuBefore = CpuSeconds(redisProcess);
        var clock = Stopwatch.StartNew();
        var requests = await LoadAsync(client, body, concurrency, TimeSpan.FromSeconds(options.Seconds));
        var elapsed = clock.Elapsed.TotalSeconds;
        var commands = Commands(await server.InfoAsync("stats")) - commandsBefore;
        var cpu = CpuSeconds(redisProcess) - cpuBefore;
        return new Run(requests * (double)options.MaxTokens / elapsed, requests / elapsed, cpu / elapsed, commands / elapsed);
    }
    finally
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}

// Runs `concurrency` clients back to back for `duration`; returns the completed requests.
static async Task<long> LoadAsync(HttpClient client, byte[] body, int concurrency, TimeSpan duration)
{
    var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
    long completed = 0;
    var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
    {
        var buffer = new byte[16 * 1024];
        while (Stopwatch.GetTimestamp() < deadline)
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new("application/json");
            using var response = await client.PostAsync("/v1/chat/completions", content);
            response.EnsureSuccessStatusCode();
            await using var stream = await response.Content.ReadAsStreamAsync();
            var tail = new byte[16];
            int read;
            while ((read = await stream.ReadAsync(buffer)) > 0)
            {
                // Keep the last bytes to check the stream ended with [DONE].
                var take = Math.Min(read, tail.Length);
                Array.Copy(tail, take, tail, 0, tail.Length - take);
                Array.Copy(buffer, read - take, tail, tail.Length - take, take);
            }

            if (!Encoding.ASCII.GetString(tail).Contains("[DONE]", StringComparison.Ordinal))
            {
                throw new InvalidOperationException("A stream did not end with [DONE].");
            }

            if (Stopwatch.GetTimestamp() <= deadline)
            {
                Interlocked.Increment(ref completed);
            }
        }
    })).ToArray();
    await Task.WhenAll(workers);
    return completed;
}

static long Commands(IGrouping<string, KeyValuePair<string, string>>[] info)
    => long.Parse(info.SelectMany(g => g).First(kv => kv.Key == "total_commands_processed").Value, CultureInfo.InvariantCulture);

static double CpuSeconds(Process? process)
{
    if (process is null)
    {
        return 0;
    }

    process.Refresh();
    return process.TotalProcessorTime.TotalSeconds;
}

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}

internal sealed record Run(double TokensPerSecond, double RequestsPerSecond, double RedisCpu, double RedisCommandsPerSecond);

internal sealed record Args(double Seconds, double Warmup, int MaxTokens, int[] Concurrency, int Rounds, string? Redis, double Pace)
{
    public static Args Parse(string[] args)
    {
        string? Get(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        return new Args(
            double.Parse(Get("--seconds") ?? "5", CultureInfo.InvariantCulture),
            double.Parse(Get("--warmup") ?? "2", CultureInfo.InvariantCulture),
            int.Parse(Get("--max-tokens") ?? "1000", CultureInfo.InvariantCulture),
            (Get("--concurrency") ?? "1,100").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(),
            int.Parse(Get("--rounds") ?? "4", CultureInfo.InvariantCulture),
            Get("--redis"),
            double.Parse(Get("--pace") ?? "0", CultureInfo.InvariantCulture));
    }
}
