using System.Net;
using System.Net.Sockets;

namespace Tokenflow.Client.Tests;

/// <summary>
/// A loopback TCP proxy that cuts connections: each connection may carry a random number of response bytes
/// (counted after the HTTP response headers, in [<c>minBytes</c>, <c>maxBytes</c>)) and is then cut in the
/// middle of the body, as a flaky network or a proxy timeout would. Deterministic for a given seed and traffic.
/// </summary>
internal sealed class ChaosProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _upstream;
    private readonly Random _random;
    private readonly int _minBytes;
    private readonly int _maxBytes;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private readonly Task _accepting;
    private int _cuts;

    public ChaosProxy(Uri upstream, int seed, int minBytes, int maxBytes)
    {
        _upstream = new IPEndPoint(IPAddress.Parse(upstream.Host), upstream.Port);
        _random = new Random(seed);
        _minBytes = minBytes;
        _maxBytes = maxBytes;
        _listener.Start();
        Address = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");
        _accepting = AcceptAsync();
    }

    public Uri Address { get; }

    /// <summary>How many connections were cut.</summary>
    public int Cuts => Volatile.Read(ref _cuts);

    /// <summary>When false, connections pass untouched.</summary>
    public bool Enabled { get; set; } = true;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        Task[] running;
        lock (_connections)
        {
            running = [.. _connections];
        }

        await Task.WhenAll(running).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            int budget;
            lock (_random)
            {
                budget = _random.Next(_minBytes, _maxBytes);
            }

            var task = RelayAsync(client, Enabled ? budget : int.MaxValue);
            lock (_connections)
            {
                _connections.Add(task);
            }
        }
    }

    private async Task RelayAsync(TcpClient client, int budget)
    {
        using var upstream = new TcpClient();
        using (client)
        {
            try
            {
                await upstream.ConnectAsync(_upstream, _stop.Token);
                using var pair = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                var up = CopyAsync(client.GetStream(), upstream.GetStream(), pair.Token);
                var down = CopyDownAsync(upstream.GetStream(), client.GetStream(), budget, pair.Token);
                var first = await Task.WhenAny(up, down);
                if (first == down && await down)
                {
                    Interlocked.Increment(ref _cuts);
                }

                // End the client side with FIN, so the bytes let through are delivered before the connection
                // ends mid-body (an RST could discard them, and with them the response headers); reset the
                // server side, which sees its reader go away.
                client.Client.Shutdown(SocketShutdown.Send);
                upstream.Client.LingerState = new LingerOption(true, 0);
                await pair.CancelAsync();
                client.Close();
                upstream.Close();
                await Task.WhenAll(up, down).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // One side went away.
            }
        }
    }

    private static async Task CopyAsync(Stream from, Stream to, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await from.ReadAsync(buffer, cancellationToken)) > 0)
        {
            await to.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
        }
    }

    /// <summary>Copies server → client; true when it stopped because the byte budget ran out (a cut).</summary>
    private static async Task<bool> CopyDownAsync(Stream from, Stream to, int budget, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        var headersSeen = false;
        var tail = 0u;
        int read;
        while ((read = await from.ReadAsync(buffer, cancellationToken)) > 0)
        {
            var start = 0;
            if (!headersSeen)
            {
                // Find the end of the response headers (\r\n\r\n): the budget counts the bytes after it.
                for (; start < read && !headersSeen; start++)
                {
                    tail = (tail << 8) | buffer[start];
                    headersSeen = tail == 0x0D0A0D0A;
                }
            }

            var body = read - start;
            if (headersSeen && body > budget)
            {
                await to.WriteAsync(buffer.AsMemory(0, start + budget), cancellationToken);
                await to.FlushAsync(cancellationToken);
                return true;
            }

            if (headersSeen)
            {
                budget -= body;
            }

            await to.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
        }

        return false;
    }
}
