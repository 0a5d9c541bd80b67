using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tokenflow.Upstreams.Tests;

/// <summary>
/// A provider stand-in: real Kestrel on 127.0.0.1:0 replaying recorded provider streams byte for byte.
/// Records each request (path, headers, JSON body) and signals when a request is aborted by the client.
/// </summary>
internal sealed class FakeUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeUpstream(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }

    /// <summary>The base URL as configured for an <c>openai</c> upstream (with <c>/v1</c>).</summary>
    public string V1 => new Uri(Address, "v1").ToString();

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    /// <summary>Completes when any request's <see cref="HttpContext.RequestAborted"/> fires (the gateway closed it).</summary>
    public TaskCompletionSource Aborted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when a generation request arrives (set before the handler runs).</summary>
    public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static async Task<FakeUpstream> StartAsync(Func<HttpContext, Task> handler)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        FakeUpstream? fake = null;
        app.Run(async context =>
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body).ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null);
            fake!.Requests.Enqueue(new RecordedRequest(context.Request.Method, context.Request.Path + context.Request.QueryString, context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase), body?.RootElement.Clone()));
            context.RequestAborted.Register(() => fake.Aborted.TrySetResult());
            if (context.Request.Method == "POST")
            {
                fake.Started.TrySetResult();
            }

            try
            {
                await handler(context);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException)
            {
            }
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        fake = new FakeUpstream(app, new Uri(address));
        return fake;
    }

    /// <summary>Writes <paramref name="text"/> in pieces of <paramref name="split"/> bytes, flushing each (so UTF-8 characters split across writes).</summary>
    public static async Task WriteSplitAsync(HttpContext context, string text, int split = 0)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        if (split <= 0)
        {
            await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            return;
        }

        for (var i = 0; i < bytes.Length; i += split)
        {
            await context.Response.Body.WriteAsync(bytes.AsMemory(i, Math.Min(split, bytes.Length - i)), context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
    }

    /// <summary>Answers with an SSE body.</summary>
    public static Task SseAsync(HttpContext context, string body, int split = 0)
    {
        context.Response.ContentType = "text/event-stream";
        return WriteSplitAsync(context, body, split);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

internal sealed record RecordedRequest(string Method, string Path, Dictionary<string, string> Headers, JsonElement? Body);
