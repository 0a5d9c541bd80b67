using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tokenflow.LlamaCpp.Tests.Download;

/// <summary>How the test server misbehaves.</summary>
internal enum ServerMode
{
    /// <summary>Serves the file, honouring <c>Range: bytes=N-</c> with 206.</summary>
    Normal,

    /// <summary>Ignores Range and always sends the whole file with 200.</summary>
    IgnoreRange,

    /// <summary>Announces the full length but sends only half the bytes.</summary>
    ShortBody,
}

/// <summary>One request the server saw.</summary>
internal sealed record SeenRequest(string Path, string? Range, string? Authorization, int Status, long BytesSent);

/// <summary>
/// A Kestrel app on 127.0.0.1:0 that serves one file at <c>/{repo}/resolve/main/{file}</c>, the way the
/// Hugging Face hub does, and records every request.
/// </summary>
internal sealed class ModelFileServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ModelFileServer(WebApplication app, Uri endpoint)
    {
        _app = app;
        Endpoint = endpoint;
    }

    public Uri Endpoint { get; }

    public ConcurrentQueue<SeenRequest> Requests { get; } = new();

    public static async Task<ModelFileServer> StartAsync(string repository, string file, byte[] content, ServerMode mode = ServerMode.Normal)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        ModelFileServer? server = null;
        app.MapGet("/{**path}", async (HttpContext context, string path) =>
        {
            var request = context.Request;
            var response = context.Response;
            var range = request.Headers.Range.ToString();
            var authorization = request.Headers.Authorization.ToString();
            void Record(long sent) => server!.Requests.Enqueue(
                new SeenRequest(path, range.Length > 0 ? range : null, authorization.Length > 0 ? authorization : null, response.StatusCode, sent));

            if (path != $"{repository}/resolve/main/{file}")
            {
                response.StatusCode = 404;
                Record(0);
                return;
            }

            long start = 0;
            if (range.Length > 0 && mode != ServerMode.IgnoreRange)
            {
                start = long.Parse(range["bytes=".Length..range.IndexOf('-', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture);
                if (start >= content.Length)
                {
                    response.StatusCode = 416;
                    response.Headers.ContentRange = $"bytes */{content.Length}";
                    Record(0);
                    return;
                }

                response.StatusCode = 206;
                response.Headers.ContentRange = $"bytes {start}-{content.Length - 1}/{content.Length}";
            }

            response.ContentType = "application/octet-stream";
            response.ContentLength = content.Length - start;
            var count = mode == ServerMode.ShortBody ? (content.Length - start) / 2 : content.Length - start;

            // Recorded before the body goes out, so a client that has read it all sees the record.
            Record(count);
            await response.Body.WriteAsync(content.AsMemory((int)start, (int)count));
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        server = new ModelFileServer(app, new Uri(address));
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
