using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Tokenflow.Server.Hosting;

namespace Tokenflow.Testing;

/// <summary>
/// A real Tokenflow server on a loopback port, with an <see cref="HttpClient"/> pointed at it.
/// Shared by the server, client and CLI tests (linked into each project). The embedded model is
/// off unless a test passes <c>--Tokenflow:EmbeddedModel true</c>, so servers start fast.
/// </summary>
internal sealed class TestServer : IAsyncDisposable
{
    private TestServer(WebApplication app, Uri address)
    {
        App = app;
        Address = address;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public WebApplication App { get; }

    public Uri Address { get; }

    public HttpClient Client { get; }

    public T GetService<T>()
        where T : notnull => App.Services.GetRequiredService<T>();

    public static async Task<TestServer> StartAsync(string[]? args = null, Action<WebApplicationBuilder>? configure = null)
    {
        string[] all = ["--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default", "Warning", "--Tokenflow:EmbeddedModel", "false", .. args ?? []];
        var app = TokenflowApp.Build(all, configure);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new TestServer(app, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
