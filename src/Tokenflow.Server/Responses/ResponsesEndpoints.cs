using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Hosting;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Responses;

/// <summary>
/// The OpenAI Responses API on the same streams as every other door: <c>POST /v1/responses</c> (streaming and
/// not, <c>background</c>), <c>GET /v1/responses/{id}</c> (the response object as it stands),
/// <c>GET /v1/responses/{id}?stream=true&amp;starting_after=N</c> (replay after sequence number N, then live) and
/// <c>POST /v1/responses/{id}/cancel</c>. The response id (<c>resp_…</c>) is a stream id.
/// </summary>
internal static class ResponsesEndpoints
{
    private static readonly TimeSpan CancelWait = TimeSpan.FromSeconds(5);

    public static RouteGroupBuilder MapResponses(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/v1/responses");
        group.MapPost(string.Empty, CreateAsync);
        group.MapGet("/{id}", GetAsync);
        group.MapPost("/{id}/cancel", CancelAsync);
        return group;
    }

    private static async Task CreateAsync(HttpContext context, ResponsesRequestParser parser, GenerationRunner runner, IStreamStore store, StreamAccess streams, IOptions<TokenflowOptions> options, TimeProvider time)
    {
        ResponsesRequest? request = null;
        var owner = ApiKeys.OwnerOf(context);
        var error = await JsonRequestBody.ReadAsync(context, root => parser.Parse(root, owner, out request));

        if (error is not null)
        {
            await error.WriteResponseAsync(context.Response);
            return;
        }

        if (request!.PreviousResponseId is { } previous)
        {
            var (history, historyError) = await ResponseConversation.LoadAsync(streams, previous, owner, context.RequestAborted);
            if (historyError is not null)
            {
                await historyError.WriteResponseAsync(context.Response);
                return;
            }

            request.Messages.InsertRange(request.InputStart, history!);
        }

        var generation = request.Store
            ? request.Generation with { Context = ResponseConversation.Serialize(request.Messages.Skip(request.InputStart)) }
            : request.Generation;
        var start = await runner.StartAsync(request.Model, request.Backend, generation, context.RequestAborted);
        if (start.Status != StreamCreateStatus.Created)
        {
            await OpenAiError.StartRefused(start.Status).WriteResponseAsync(context.Response);
            return;
        }

        var (_, reader) = await store.OpenReaderAsync(start.StreamId!, 0, CancellationToken.None);
        await using (reader!)
        {
            using var state = new ResponseState(start.StreamId!, request.Model.Id, start.Created);
            if (request.Stream)
            {
                await WriteEventStreamAsync(context, reader!, state, -1, fresh: true, options.Value.HeartbeatInterval, time);
            }
            else if (request.Generation.Background)
            {
                // Background: answer at once with the queued response; poll or stream it by id.
                await WriteObjectAsync(context, state);
            }
            else
            {
                await ReadToEndAsync(reader!, state, context.RequestAborted);
                await WriteObjectAsync(context, state);
            }
        }
    }

    private static async Task GetAsync(HttpContext context, string id, StreamAccess streams, IOptions<TokenflowOptions> options, TimeProvider time)
    {
        var query = context.Request.Query;
        var stream = query["stream"].ToString() is "true" or "1";
        var startingAfter = -1L;
        if (query["starting_after"].ToString() is { Length: > 0 } after && (!long.TryParse(after, NumberStyles.None, CultureInfo.InvariantCulture, out startingAfter) || startingAfter < 0))
        {
            await OpenAiError.Invalid($"'starting_after' must be a non-negative sequence number (got '{after}').", "starting_after", "invalid_value").WriteResponseAsync(context.Response);
            return;
        }

        var (status, reader, descriptor) = await streams.OpenAsync(id, 0, ApiKeys.OwnerOf(context), context.RequestAborted);
        if (reader is null || descriptor is null || descriptor.Metadata != ResponsesRequest.Metadata)
        {
            await using (reader)
            {
                await (status == StreamOpenStatus.Truncated
                    ? OpenAiError.NotRetained(id, 0)
                    : new OpenAiError(StatusCodes.Status404NotFound, $"No response with id '{id}'.", "invalid_request_error", "id", "response_not_found")).WriteResponseAsync(context.Response);
            }

            return;
        }

        await using (reader)
        {
            using var state = new ResponseState(id, descriptor.Model, descriptor.Created);
            if (stream)
            {
                if (startingAfter > 0)
                {
                    Tokenflow.Core.Diagnostics.TokenflowTelemetry.StreamResumed("responses");
                }

                await WriteEventStreamAsync(context, reader, state, startingAfter, fresh: true, options.Value.HeartbeatInterval, time);
                return;
            }

            if (descriptor.Context is null)
            {
                // store: false — the response object is not kept for retrieval (its live stream still resumes).
                await new OpenAiError(StatusCodes.Status404NotFound, $"Response '{id}' was created with 'store': false and cannot be retrieved.", "invalid_request_error", "id", "response_not_found").WriteResponseAsync(context.Response);
                return;
            }

            // What the store holds now, without waiting for more.
            while (!state.Ended && reader.TryRead(out var item))
            {
                state.Add(in item, ResponseState.Accumulate);
            }

            await WriteObjectAsync(context, state);
        }
    }

    private static async Task CancelAsync(HttpContext context, string id, StreamAccess streams)
    {
        var descriptor = await streams.FindAsync(id, ApiKeys.OwnerOf(context), context.RequestAborted);
        if (descriptor is null || descriptor.Metadata != ResponsesRequest.Metadata)
        {
            await new OpenAiError(StatusCodes.Status404NotFound, $"No response with id '{id}'.", "invalid_request_error", "id", "response_not_found").WriteResponseAsync(context.Response);
            return;
        }

        await streams.CancelAsync(id, ApiKeys.OwnerOf(context), CancelWait, context.RequestAborted);
        var (_, reader, _) = await streams.OpenAsync(id, 0, ApiKeys.OwnerOf(context), context.RequestAborted);
        await using (reader)
        {
            using var state = new ResponseState(id, descriptor.Model, descriptor.Created);
            while (reader is not null && !state.Ended && reader.TryRead(out var item))
            {
                state.Add(in item, ResponseState.Accumulate);
            }

            await WriteObjectAsync(context, state);
        }
    }

    private static async Task ReadToEndAsync(IStreamReader reader, ResponseState state, CancellationToken cancellationToken)
    {
        try
        {
            while (!state.Ended && await reader.WaitToReadAsync(cancellationToken))
            {
                while (!state.Ended && reader.TryRead(out var item))
                {
                    state.Add(in item, ResponseState.Accumulate);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client left; the response object is not sent.
        }
    }

    private static async Task WriteObjectAsync(HttpContext context, ResponseState state)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer, JsonWriting.Options))
        {
            state.WriteResponse(w);
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }

    /// <summary>
    /// Streams the Responses events with <c>sequence_number</c> (and SSE <c>id</c>) above <paramref name="startingAfter"/>:
    /// the sequence is re-derived from the log start, so a replay numbers every event as the original did.
    /// </summary>
    private static async Task WriteEventStreamAsync(HttpContext context, IStreamReader reader, ResponseState state, long startingAfter, bool fresh, TimeSpan heartbeat, TimeProvider time)
    {
        var response = context.Response;
        var cancellationToken = context.RequestAborted;
        var output = response.BodyWriter;
        response.StatusCode = StatusCodes.Status200OK;
        EventStreamResponse.Prepare(context);
        response.Headers["X-Stream-Id"] = reader.StreamId;
        using var sink = new ResponseEventSink(output, startingAfter);
        try
        {
            await response.StartAsync(cancellationToken);
            if (fresh)
            {
                state.Start(sink);
            }

            var lastWrite = time.GetTimestamp();
            using var timer = time.CreateTimer(static s => ((IStreamReader)s!).Interrupt(), reader, heartbeat / 3, heartbeat / 3);
            await output.FlushAsync(cancellationToken);
            while (!state.Ended && await reader.WaitToReadAsync(cancellationToken))
            {
                var any = false;
                while (!state.Ended && reader.TryRead(out var item))
                {
                    state.Add(in item, sink);
                    any = true;
                }

                if (any)
                {
                    lastWrite = time.GetTimestamp();
                }
                else if (time.GetElapsedTime(lastWrite) >= heartbeat)
                {
                    output.Write(": ping\n\n"u8);
                    lastWrite = time.GetTimestamp();
                }

                var flush = await output.FlushAsync(cancellationToken);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away; disposing the reader detaches it (grace rules apply).
        }
        catch (IOException)
        {
            // The connection broke while writing: same as a disconnect.
        }
    }
}
