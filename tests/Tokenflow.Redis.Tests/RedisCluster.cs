using System.Diagnostics;

namespace Tokenflow.Redis.Tests;

/// <summary>
/// A real Redis Cluster of three masters (no replicas) on free loopback ports, without persistence: three
/// <c>redis-server --cluster-enabled yes</c> processes joined by <c>redis-cli --cluster create</c>. Ready once
/// every node reports <c>cluster_state:ok</c>; disposing kills the nodes and removes their config files.
/// </summary>
internal sealed class RedisCluster : IAsyncDisposable
{
    private static readonly Lazy<Task<RedisCluster>> SharedCluster = new(() => StartAsync());
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private readonly List<Process> _nodes = [];
    private readonly string _directory;

    private readonly int[] _busPorts;
    private readonly Dictionary<int, System.Text.StringBuilder> _logs = [];

    private RedisCluster(int[] ports, int[] busPorts, string directory)
    {
        Ports = ports;
        _busPorts = busPorts;
        _directory = directory;
    }

    /// <summary>One cluster for every test that only needs some cluster (each test uses its own keys).</summary>
    public static Task<RedisCluster> Shared => SharedCluster.Value;

    public IReadOnlyList<int> Ports { get; }

    /// <summary>A StackExchange.Redis configuration string naming every master.</summary>
    public string Configuration => string.Join(',', Ports.Select(p => $"127.0.0.1:{p}"));

    public static async Task<RedisCluster> StartAsync()
    {
        // Free ports are only free when asked: a node that cannot bind (another process took the port in
        // between) exits at once, and the cluster is started again on new ports.
        for (var attempt = 1; ; attempt++)
        {
            var directory = Directory.CreateTempSubdirectory("tokenflow-cluster-").FullName;
            RemoveWithThisProcess(directory);
            var free = new HashSet<int>();
            while (free.Count < 6)
            {
                free.Add(RedisServer.FreePort());
            }

            var all = free.ToArray();
            // The cluster bus defaults to port + 10000, which may be taken or past 65535: give it a free port of its own.
            var cluster = new RedisCluster(all[..3], all[3..], directory);
            try
            {
                await cluster.StartNodesAsync();
                return cluster;
            }
            catch (Exception) when (attempt < 3)
            {
                await cluster.DisposeAsync();
            }
            catch
            {
                await cluster.DisposeAsync();
                throw;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            ChildProcesses.Kill(node);
            node.Dispose();
        }

        _nodes.Clear();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A node still closing its config file; the temp directory is cleaned up later.
        }

        await Task.CompletedTask;
    }

    /// <summary>Runs <c>redis-cli -p PORT args…</c> and returns its standard output.</summary>
    public static async Task<string> CliAsync(int port, params string[] args)
    {
        var (code, output) = await RunAsync("redis-cli", ["-p", port.ToString(), .. args], TimeSpan.FromSeconds(15));
        return code == 0 ? output : throw new InvalidOperationException($"redis-cli {string.Join(' ', args)} failed: {output}");
    }

    private async Task StartNodesAsync()
    {
        for (var i = 0; i < Ports.Count; i++)
        {
            var port = Ports[i];
            var start = new ProcessStartInfo("redis-server")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = _directory,
            };
            foreach (var arg in new[]
            {
                "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no",
                "--cluster-enabled", "yes", "--cluster-config-file", Path.Combine(_directory, $"nodes-{port}.conf"),
                "--cluster-port", _busPorts[i].ToString(), "--cluster-node-timeout", "5000",
            })
            {
                start.ArgumentList.Add(arg);
            }

            var process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start.");
            var log = _logs[port] = new System.Text.StringBuilder();
            process.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
            process.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            ChildProcesses.KillWithThisProcess(process);
            _nodes.Add(process);
        }

        var deadline = DateTime.UtcNow + StartTimeout;
        for (var i = 0; i < Ports.Count; i++)
        {
            var port = Ports[i];
            var node = _nodes[i];
            await UntilAsync(
                deadline,
                async () => node.HasExited
                    ? throw new InvalidOperationException($"redis-server on port {port} exited: {Log(port)}")
                    : (await TryCliAsync(port, "ping")).Contains("PONG", StringComparison.Ordinal),
                $"node {port} did not answer PING: {Log(port)}");
        }

        var (code, output) = await RunAsync(
            "redis-cli",
            ["--cluster", "create", .. Ports.Select(p => $"127.0.0.1:{p}"), "--cluster-replicas", "0", "--cluster-yes"],
            StartTimeout);
        if (code != 0)
        {
            throw new InvalidOperationException($"redis-cli --cluster create failed: {output}");
        }

        foreach (var port in Ports)
        {
            await UntilAsync(deadline, async () => (await TryCliAsync(port, "cluster", "info")).Contains("cluster_state:ok", StringComparison.Ordinal), $"node {port} never reported cluster_state:ok");
        }
    }

    /// <summary>
    /// The nodes' config files go once the test host is gone, however it ends (the shared cluster is never disposed,
    /// and a killed host runs no exit handlers): a watchdog like <see cref="ChildProcesses.KillWithThisProcess"/>'s.
    /// </summary>
    private static void RemoveWithThisProcess(string directory)
    {
        var watchdog = new ProcessStartInfo("sh")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        watchdog.ArgumentList.Add("-c");
        watchdog.ArgumentList.Add($"while kill -0 {Environment.ProcessId} 2>/dev/null; do sleep 1; done; sleep 2; rm -rf '{directory}'");
        using var _ = Process.Start(watchdog);
    }

    private string Log(int port)
    {
        var log = _logs[port];
        lock (log)
        {
            return log.ToString().Trim();
        }
    }

    private static async Task<string> TryCliAsync(int port, params string[] args)
    {
        var (code, output) = await RunAsync("redis-cli", ["-p", port.ToString(), .. args], TimeSpan.FromSeconds(5));
        return code == 0 ? output : string.Empty;
    }

    private static async Task UntilAsync(DateTime deadline, Func<Task<bool>> condition, string failure)
    {
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Redis Cluster: {failure}.");
            }

            await Task.Delay(50);
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, string[] args, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timer = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(timer.Token);
        }
        catch (OperationCanceledException)
        {
            ChildProcesses.Kill(process);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {timeout}.");
        }

        return (process.ExitCode, await output + await error);
    }
}
