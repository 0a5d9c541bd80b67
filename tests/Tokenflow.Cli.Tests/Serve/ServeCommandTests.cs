using System.Net;
using System.Net.Sockets;
using Tokenflow.Client;

namespace Tokenflow.Cli.Tests.Serve;

public sealed class ServeCommandTests
{
    [Fact]
    public async Task Serve_runs_the_server_until_stopped()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();

        using var stop = new CancellationTokenSource();
        var run = new CliRun();
        var serve = run.StartAsync(stop.Token, "serve", "--urls", $"http://127.0.0.1:{port}", "--Logging:LogLevel:Default", "Warning");
        using var client = new TokenflowClient(new Uri($"http://127.0.0.1:{port}"));
        IReadOnlyList<string>? models = null;
        for (var attempt = 0; attempt < 200 && models is null && !serve.IsCompleted; attempt++)
        {
            try
            {
                models = await client.GetModelsAsync();
            }
            catch (HttpRequestException)
            {
                await Task.Delay(50);
            }
        }

        Assert.NotNull(models);
        Assert.Contains("sim", models);
        await stop.CancelAsync();
        Assert.Equal(0, await serve.WaitAsync(TimeSpan.FromSeconds(20)));
    }
}
