using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tokenflow.Redis.Tests;

/// <summary>A real <c>redis-server</c> on a free loopback port, without persistence, that tests may kill and start again.</summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private static readonly Lazy<Task<RedisServer>> SharedServer = new(() => StartAsync());
    private Process? _process;

    private RedisServer(int port) => Port = port;

    /// <summary>One server for every test that only needs some Redis (each test uses its own stream ids).</summary>
    public static Task<RedisServer> Shared => SharedServer.Value;

    public int Port { get; }

    public string Configuration => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync()
    {
        var server = new RedisServer(FreePort());
        await server.StartAgainAsync();
        return server;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts redis-server on <see cref="Port"/> and waits until it answers PING.</summary>
    public async Task StartAgainAsync()
    {
        var start = new ProcessStartInfo("redis-server")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no" })
        {
            start.ArgumentList.Add(arg);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start.");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        ChildProcesses.KillWithThisProcess(_process);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!await PingAsync())
        {
            if (DateTime.UtcNow > deadline || _process.HasExited)
            {
                throw new InvalidOperationException($"redis-server on port {Port} did not answer.");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Kills the server at once (SIGKILL): everything it held is gone.</summary>
    public void Kill()
    {
        if (_process is not null)
        {
            ChildProcesses.Kill(_process);
        }
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        _process?.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<bool> PingAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(2));
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is SocketException or IOException or TimeoutException)
        {
            return false;
        }
    }
}
