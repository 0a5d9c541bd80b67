using Microsoft.AspNetCore.Http.Features;

namespace Tokenflow.Server.Hosting;

/// <summary>
/// The response setup every Server-Sent Events door shares (OpenAI chunks, stream replay, Durable
/// Streams SSE): the content type, no caching, no proxy buffering, and no response buffering in
/// ASP.NET Core, so each flushed event reaches the client at once.
/// </summary>
internal static class EventStreamResponse
{
    /// <summary>The SSE media type.</summary>
    public const string ContentType = "text/event-stream";

    /// <summary>
    /// Sets the SSE headers on <paramref name="context"/>'s response and turns off response buffering
    /// (and with it compression middleware). Call before the response starts.
    /// </summary>
    public static void Prepare(HttpContext context)
    {
        var response = context.Response;
        response.ContentType = ContentType;
        response.Headers.CacheControl = "no-cache";
        // nginx (and proxies that copy it) would otherwise hold events back to fill its buffer.
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
    }
}
