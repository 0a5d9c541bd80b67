using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Hosting;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Streams;

/// <summary>
/// Streams as first-class objects: <c>GET /v1/streams/{id}</c> (status),
/// <c>GET /v1/streams/{id}/events</c> (SSE replay from <c>Last-Event-ID</c> or <c>?after=</c>,
/// then live until <c>[DONE]</c>) and <c>POST /v1/streams/{id}/cancel</c>.
/// </summary>
internal static class StreamEndpoints
{
    public static RouteGroupBuilder MapStreams(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/v1/streams/{id}");
        group.MapGet(string.Empty, GetStatusAsync);
        group.MapGet("/events", GetEventsAsync);
        group.MapPost("/cancel", CancelAsync);
        return group;
    }

    /// <summary>The stream's descriptor when it exists and the caller may see it; otherwise null (answered as 404, so ids of other keys' streams are not confirmed).</summary>
    private static async Task<StreamDescriptor?> FindAsync(HttpContext context, string id, IStreamStore store)
        => StreamIds.IsWellFormed(id) && await store.GetDescriptorAsync(id, context.RequestAborted) is { } descriptor && ApiKeys.MayAccess(context, descriptor.Owner)
            ? descriptor
            : null;

    private static async Task GetStatusAsync(HttpContext context, string id, IStreamStore store)
    {
        var status = await FindAsync(context, id, store) is not null ? await store.GetStatusAsync(id, context.RequestAborted) : null;
        if (status is null)
        {
            await OpenAiError.StreamNotFound(id).WriteResponseAsync(context.Response);
            return;
        }

        await WriteStatusAsync(context, status);
    }

    private static async Task GetEventsAsync(HttpContext context, string id, IStreamStore store, IOptions<TokenflowOptions> options, TimeProvider time)
    {
        var after = 0L;
        var lastEventId = context.Request.Headers["Last-Event-ID"].ToString();
        var afterQuery = context.Request.Query["after"].ToString();
        var cursor = lastEventId.Length > 0 ? lastEventId : afterQuery;
        if (cursor.Length > 0 && (!long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out after) || after < 0))
        {
            var param = lastEventId.Length > 0 ? "Last-Event-ID" : "after";
            await OpenAiError.Invalid($"'{param}' must be a non-negative event number (got '{cursor}').", param, "invalid_value").WriteResponseAsync(context.Response);
            return;
        }

        var descriptor = await FindAsync(context, id, store);
        var (status, reader) = descriptor is null ? (StreamOpenStatus.NotFound, null) : await store.OpenReaderAsync(id, after, context.RequestAborted);
        if (status == StreamOpenStatus.Truncated)
        {
            await OpenAiError.NotRetained(id, after).WriteResponseAsync(context.Response);
            return;
        }

        if (reader is null || descriptor is null)
        {
            await OpenAiError.StreamNotFound(id).WriteResponseAsync(context.Response);
            return;
        }

        await using (reader)
        {
            var (kind, includeUsage) = ReplayFormat.Decode(descriptor.Metadata);
            using var writer = new ChunkSseWriter(context.Response.BodyWriter, kind, id, descriptor.Model, descriptor.Created, includeUsage);
            await ChunkStreamResponse.WriteEventStreamAsync(context, reader, writer, options.Value.HeartbeatInterval, time);
        }
    }

    private static async Task CancelAsync(HttpContext context, string id, IStreamStore store)
    {
        if (await FindAsync(context, id, store) is null || !await store.CancelAsync(id, context.RequestAborted))
        {
            await OpenAiError.StreamNotFound(id).WriteResponseAsync(context.Response);
            return;
        }

        // Answer with the final state: wait (briefly) for the generation to write its terminal event.
        var before = await store.GetStatusAsync(id, context.RequestAborted);
        if (before is { State: StreamState.Running })
        {
            var (_, reader) = await store.OpenReaderAsync(id, before.LastSeq, context.RequestAborted);
            if (reader is not null)
            {
                await using (reader)
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
                    timeout.CancelAfter(TimeSpan.FromSeconds(5));
                    try
                    {
                        while (await reader.WaitToReadAsync(timeout.Token))
                        {
                            while (reader.TryRead(out _))
                            {
                            }
                        }
                    }
                    catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
                    {
                        // A backend slow to stop: report the state as it is now.
                    }
                }
            }
        }

        var status = await store.GetStatusAsync(id, context.RequestAborted);
        if (status is null)
        {
            await OpenAiError.StreamNotFound(id).WriteResponseAsync(context.Response);
            return;
        }

        await WriteStatusAsync(context, status);
    }

    private static async Task WriteStatusAsync(HttpContext context, StreamStatus status)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, JsonWriting.Options))
        {
            w.WriteStartObject();
            w.WriteString("id"u8, status.Id);
            w.WriteString("object"u8, "stream"u8);
            w.WriteString("model"u8, status.Model);
            w.WriteString("status"u8, StreamStateNames.ToJson(status.State));
            w.WriteNumber("created"u8, status.Created);
            w.WriteNumber("last_seq"u8, status.LastSeq);
            UsageJson.WriteUsage(w, status.Usage);
            w.WriteEndObject();
        }

        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }
}
