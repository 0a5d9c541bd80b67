using System.Net.Sockets;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Tokenflow.Server.Hosting;

namespace Tokenflow.Benchmarks;

/// <summary>
/// A real Kestrel server on loopback and a real HttpClient reading a <c>sim</c> stream at full
/// speed: tokens per second on one stream (per-token time of a 100k-token stream) and time to the
/// first byte of a stream.
/// </summary>
[MemoryDiagnoser]
public class EndToEndBenchmarks
{
    private const int Tokens = 100_000;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private WebApplication _app = null!;
    private HttpClient _client = null!;
    private byte[] _longBody = null!;
    private byte[] _shortBody = null!;
    private byte[] _rawRequest = null!;
    private int _port;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _app = TokenflowApp.Build(["--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default", "Warning", "--Tokenflow:EmbeddedModel", "false"]);
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = new Uri(address) };
        _longBody = Encoding.UTF8.GetBytes($"{{\"model\":\"sim\",\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}],\"stream\":true,\"max_tokens\":{Tokens},\"seed\":1}}");
        _port = new Uri(address).Port;
        _rawRequest = Encoding.ASCII.GetBytes($"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {_longBody.Length}\r\nConnection: close\r\n\r\n{Encoding.UTF8.GetString(_longBody)}");
        _shortBody = Encoding.UTF8.GetBytes("{\"model\":\"sim\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true,\"max_tokens\":1,\"seed\":1}");

        // A benchmark that measures an error response measures nothing: check the raw request streams the tokens.
        var bytes = await OneStreamPerTokenRawSocket();
        if (bytes < Tokens * 10L)
        {
            throw new InvalidOperationException($"The raw-socket request did not stream the generation ({bytes} bytes).");
        }
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        _client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>Per-token time of one 100k-token stream read to the end (tokens/s = 1e9 / ns).</summary>
    [Benchmark(OperationsPerInvoke = Tokens)]
    public async Task<long> OneStreamPerToken()
    {
        using var content = new ByteArrayContent(_longBody);
        using var response = await _client.PostAsync("/v1/chat/completions", content, default);
        await using var stream = await response.Content.ReadAsStreamAsync();
        long total = 0;
        int read;
        while ((read = await stream.ReadAsync(_buffer)) > 0)
        {
            total += read;
        }

        return total;
    }

    /// <summary>
    /// The same stream read by a raw socket client that allocates nothing, so the allocation
    /// column is the server's alone.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Tokens)]
    public async Task<long> OneStreamPerTokenRawSocket()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(System.Net.IPAddress.Loopback, _port);
        await socket.SendAsync(_rawRequest);
        long total = 0;
        int read;
        while ((read = await socket.ReceiveAsync(_buffer.AsMemory())) > 0)
        {
            total += read;
        }

        return total;
    }

    /// <summary>From sending the request to reading the first byte of the event stream.</summary>
    [Benchmark]
    public async Task<int> TimeToFirstByte()
    {
        using var content = new ByteArrayContent(_shortBody);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = content };
        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var read = await stream.ReadAsync(_buffer.AsMemory(0, 1));
        while (await stream.ReadAsync(_buffer) > 0)
        {
        }

        return read;
    }
}
