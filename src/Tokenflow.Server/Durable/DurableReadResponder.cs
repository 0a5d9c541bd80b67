using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using Tokenflow.Core.Durable;
using Tokenflow.Server.Hosting;

namespace Tokenflow.Server.Durable;

/// <summary>
/// Answers a read of any Durable Stream — client-created or a generation — from its <see cref="IDurableReadSource"/>:
/// catch-up (with ETag and <c>If-None-Match</c>), long-poll (204 on timeout) and SSE (data and control events until
/// closure or the connection's lifetime). The only place that turns reads into HTTP.
/// </summary>
internal static class DurableReadResponder
{
    /// <summary>Serves <paramref name="query"/> from <paramref name="source"/>.</summary>
    public static async Task RespondAsync(HttpContext context, IDurableReadSource source, DurableReadQuery query, DurableStreamOptions settings, TimeProvider time)
    {
        var response = context.Response;
        var aborted = context.RequestAborted;
        var body = new ArrayBufferWriter<byte>(256);
        var read = await source.ReadAsync(query.Position, body, aborted);
        if (read.Outcome != DurableOutcome.Ok)
        {
            await DurableResponses.FailAsync(response, DurableResponses.StatusOf(read.Outcome), read.Message ?? read.Outcome.ToString());
            return;
        }

        if (query.Live == DurableLiveMode.Sse)
        {
            await StreamSseAsync(context, source, query, settings, time, read, body);
            return;
        }

        if (query.Live == DurableLiveMode.LongPoll)
        {
            if (read.Count == 0 && !read.Closed)
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(aborted);
                timeout.CancelAfter(settings.LongPollTimeout);
                if (await WaitForNewAsync(source, read.Next, body, timeout.Token, aborted) is { } next)
                {
                    if (next.Outcome != DurableOutcome.Ok)
                    {
                        await DurableResponses.FailAsync(response, DurableResponses.StatusOf(next.Outcome), next.Message ?? next.Outcome.ToString());
                        return;
                    }

                    read = next;
                }
            }

            if (!read.Closed)
            {
                response.Headers[DurableHeaders.Cursor] = DurableResponses.Cursor(query.ClientCursor, time).ToString(CultureInfo.InvariantCulture);
            }

            if (read.Count == 0)
            {
                DurableResponses.WriteReadHeaders(response, read);
                response.Headers.CacheControl = "no-store";
                response.StatusCode = StatusCodes.Status204NoContent;
                return;
            }
        }

        DurableResponses.WriteReadHeaders(response, read);
        if (query.Position is null)
        {
            response.Headers.CacheControl = "no-store";
        }
        else
        {
            var etag = $"\"{read.StreamKey}:{read.Start}:{read.Next}{(read.Closed ? ":c" : string.Empty)}\"";
            response.Headers.ETag = etag;
            response.Headers.CacheControl = source.Cacheable ? "private, max-age=60, stale-while-revalidate=300" : "no-store";
            if (DurableRequestParser.IsNotModified(context.Request, etag))
            {
                response.StatusCode = StatusCodes.Status304NotModified;
                return;
            }
        }

        response.ContentType = read.ContentType;
        await response.Body.WriteAsync(body.WrittenMemory, aborted);
    }

    private static async Task StreamSseAsync(HttpContext context, IDurableReadSource source, DurableReadQuery query, DurableStreamOptions settings, TimeProvider time, DurableReadBatch read, ArrayBufferWriter<byte> body)
    {
        var response = context.Response;
        var aborted = context.RequestAborted;
        var binary = !read.IsJson && !read.ContentType.StartsWith("text/", StringComparison.OrdinalIgnoreCase);
        EventStreamResponse.Prepare(context);
        if (binary)
        {
            response.Headers[DurableHeaders.SseDataEncoding] = "base64";
        }

        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        lifetime.CancelAfter(settings.SseConnectionLifetime);
        var writer = response.BodyWriter;
        try
        {
            while (true)
            {
                if (read.Count > 0)
                {
                    if (binary)
                    {
                        DurableSse.WriteBase64Data(writer, body.WrittenSpan);
                    }
                    else
                    {
                        DurableSse.WriteData(writer, body.WrittenSpan);
                    }
                }

                DurableSse.WriteControl(writer, read.Next, DurableResponses.Cursor(query.ClientCursor, time), read.UpToDate, read.Closed);
                await writer.FlushAsync(aborted);
                if (read.Closed)
                {
                    return;
                }

                DurableReadBatch? next;
                if (read.UpToDate)
                {
                    next = await WaitForNewAsync(source, read.Next, body, lifetime.Token, aborted);
                }
                else
                {
                    body.ResetWrittenCount();
                    next = await source.ReadAsync(read.Next, body, aborted);
                }

                if (next is not { Outcome: DurableOutcome.Ok } batch)
                {
                    // The connection reached its lifetime (clients reconnect from the last control offset), or the stream went away.
                    return;
                }

                read = batch;
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client went away.
        }
    }

    /// <summary>
    /// Waits until a read from <paramref name="from"/> brings something new (data, closure or a failure) and returns it;
    /// null when <paramref name="wait"/> fires first. A wake-up can come before the data is readable here (another
    /// process' append announced by pub/sub first): an empty read waits again rather than answer early.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<DurableReadBatch?> WaitForNewAsync(IDurableReadSource source, long from, ArrayBufferWriter<byte> body, CancellationToken wait, CancellationToken aborted)
    {
        while (await source.WaitAsync(from, wait))
        {
            body.ResetWrittenCount();
            var read = await source.ReadAsync(from, body, aborted);
            if (read.Outcome != DurableOutcome.Ok || read.Count > 0 || read.Closed || read.Next != from)
            {
                return read;
            }
        }

        body.ResetWrittenCount();
        return null;
    }
}
