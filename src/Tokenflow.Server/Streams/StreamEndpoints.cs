using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Streams;
using Tokenflow.Core.Watches;
using Tokenflow.Server.Hosting;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Streams;

/// <summary>
/// Streams as first-class objects: <c>GET /v1/streams/{id}</c> (status),
/// <c>GET /v1/streams/{id}/events</c> (SSE replay from <c>Last-Event-ID</c> or <c>?after=</c>,
/// then live until <c>[DONE]</c>), <c>POST /v1/streams/{id}/cancel</c> and
/// <c>POST /v1/streams/{id}/watches</c> (a watch added to a running generation).
/// </summary>
internal static class StreamEndpoints
{
    public static RouteGroupBuilder MapStreams(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/v1/streams/{id}");
        group.MapGet(string.Empty, GetStatusAsync);
        group.MapGet("/events", GetEventsAsync);
        group.MapPost("/cancel", CancelAsync);
        group.MapPost("/watches", AddWatchAsync);
        return group;
    }

    /// <summary>How long cancel waits for the generation's terminal event before answering with the state as it is.</summary>
    private static readonly TimeSpan CancelWait = TimeSpan.FromSeconds(5);

    // Another key's stream is answered as 404 too, so its id is not confirmed (StreamAccess decides).
    private static async Task GetStatusAsync(HttpContext context, string id, StreamAccess streams)
    {
        var status = await streams.GetStatusAsync(id, ApiKeys.OwnerOf(context), context.RequestAborted);
        if (status is null)
        {
            await OpenAiError.StreamNotFound(id).WriteResponseAsync(context.Response);
            return;
        }

        await WriteStatusAsync(context, status);
    }

    private static async Task GetEventsAsync(HttpContext context, string id, StreamAccess streams, IOptions<TokenflowOptions> options, TimeProvider time)
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

        var (status, reader, descriptor) = await streams.OpenAsync(id, after, ApiKeys.OwnerOf(context), context.RequestAborted);
        if (after > 0 && status == StreamOpenStatus.Opened)
        {
            // A Messages stream replays in Anthropic's framing: that is the Messages door's resume.
            Tokenflow.Core.Diagnostics.TokenflowTelemetry.StreamResumed(descriptor?.Metadata == Anthropic.MessagesRequest.Metadata ? "messages" : "sse");
        }

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
            if (descriptor.Metadata == Anthropic.MessagesRequest.Metadata)
            {
                // A Messages stream replays in Anthropic's framing; to continue its block numbering the
                // events before 'after' are read again, silently.
                var whole = after == 0 ? null : (await streams.OpenAsync(id, 0, ApiKeys.OwnerOf(context), context.RequestAborted)).Reader;
                await using (whole)
                {
                    await Anthropic.MessagesEndpoints.WriteEventStreamAsync(context, whole ?? reader, descriptor.Model, after, options.Value.HeartbeatInterval, time);
                }

                return;
            }

            var (kind, includeUsage, partialJson) = ReplayFormat.Decode(descriptor.Metadata);
            using var writer = new ChunkSseWriter(context.Response.BodyWriter, kind, id, descriptor.Model, descriptor.Created, includeUsage, partialJson);
            await ChunkStreamResponse.WriteEventStreamAsync(context, reader, writer, options.Value.HeartbeatInterval, time);
        }
    }

    private static async Task CancelAsync(HttpContext context, string id, StreamAccess streams)
    {
        // Answer with the final state: the generation's terminal event is waited for (briefly).
        var status = await streams.CancelAsync(id, ApiKeys.OwnerOf(context), CancelWait, context.RequestAborted);
        if (status is null)
        {
            await OpenAiError.StreamNotFound(id).WriteResponseAsync(context.Response);
            return;
        }

        await WriteStatusAsync(context, status);
    }

    private static async Task AddWatchAsync(HttpContext context, string id, StreamAccess streams, GenerationRunner runner)
    {
        var status = await streams.GetStatusAsync(id, ApiKeys.OwnerOf(context), context.RequestAborted);
        if (status is null)
        {
            await OpenAiError.StreamNotFound(id).WriteResponseAsync(context.Response);
            return;
        }

        WatchSpec? watch = null;
        var error = await JsonRequestBody.ReadAsync(context, root => WatchRequestParser.ParseOne(root, "watch", out watch));

        if (error is null && status.State != StreamState.Running)
        {
            error = new OpenAiError(StatusCodes.Status409Conflict, $"The stream {id} has ended ({StreamStateNames.ToWire(status.State)}): there is no more output to watch.", "invalid_request_error", null, "stream_ended");
        }

        if (error is null)
        {
            error = runner.TryAddWatch(id, watch!) switch
            {
                WatchAddResult.DuplicateId => OpenAiError.Invalid($"The stream already has a watch with the id '{watch!.Id}'.", "watch.id", "duplicate_watch"),
                WatchAddResult.NotRunning => new OpenAiError(StatusCodes.Status409Conflict, $"The stream {id} is not generating in this process (it ended, or another server runs it): add watches where the generation runs.", "invalid_request_error", null, "not_running_here"),
                _ => null,
            };
        }

        if (error is not null)
        {
            await error.WriteResponseAsync(context.Response);
            return;
        }

        var buffer = new ArrayBufferWriter<byte>(128);
        using (var w = new Utf8JsonWriter(buffer, JsonWriting.Options))
        {
            w.WriteStartObject();
            w.WriteString("object"u8, "stream.watch"u8);
            w.WriteString("stream_id"u8, id);
            w.WriteString("watch_id"u8, watch!.Id);
            w.WriteEndObject();
        }

        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
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
