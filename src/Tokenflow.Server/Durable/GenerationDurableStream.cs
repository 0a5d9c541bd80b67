using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Tokenflow.Core.Durable;
using Tokenflow.Core.Streams;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Durable;

/// <summary>
/// A generation as a read-only Durable Stream (<c>application/json</c>): one message per event —
/// <c>{"seq":N,"type":"delta","text":…}</c>, <c>usage</c>, <c>error</c>, <c>done</c> with <c>finish_reason</c> —
/// at offsets that encode the seq, closed once the terminal event is read. Every read opens an
/// <see cref="IStreamReader"/>, so it counts as a reader for the grace rules. Appends are 405.
/// </summary>
internal static class GenerationDurableStream
{
    private const string ContentType = "application/json";

    public static async Task HandleAsync(HttpContext context, string id, IStreamStore store, DurableStreamOptions settings, TimeProvider time)
    {
        var request = context.Request;
        var response = context.Response;
        if (HttpMethods.IsHead(request.Method))
        {
            var status = await store.GetStatusAsync(id, context.RequestAborted);
            response.Headers.CacheControl = "no-store";
            if (status is null)
            {
                response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            response.ContentType = ContentType;
            response.Headers[DurableHeaders.NextOffset] = DurableOffset.Format(status.LastSeq);
            if (status.State != StreamState.Running)
            {
                response.Headers[DurableHeaders.Closed] = "true";
            }

            return;
        }

        if (!HttpMethods.IsGet(request.Method))
        {
            response.Headers.Allow = "GET, HEAD, OPTIONS";
            await DurableStreamEndpoints.FailAsync(response, StatusCodes.Status405MethodNotAllowed, "A generation's stream is written only by its generation.");
            return;
        }

        var live = request.Query["live"].ToString();
        var offsets = request.Query["offset"];
        if (offsets.Count > 1 || (offsets.Count == 1 && offsets.ToString().Length == 0) || !DurableOffset.TryParse(offsets.ToString(), out var position) || (live.Length > 0 && live is not "long-poll" and not "sse"))
        {
            await DurableStreamEndpoints.FailAsync(response, StatusCodes.Status400BadRequest, "Invalid offset or live mode.");
            return;
        }

        var after = position ?? (await store.GetStatusAsync(id, context.RequestAborted))?.LastSeq ?? 0;
        var (open, reader) = await store.OpenReaderAsync(id, after, context.RequestAborted);
        if (reader is null)
        {
            await DurableStreamEndpoints.FailAsync(response, open == StreamOpenStatus.Truncated ? StatusCodes.Status410Gone : StatusCodes.Status404NotFound, "No such stream position.");
            return;
        }

        await using (reader)
        {
            if (live == "sse")
            {
                await StreamSseAsync(context, store, reader, after, settings, time);
                return;
            }

            var buffer = new ArrayBufferWriter<byte>(1024);
            var (next, count, closed) = Drain(reader, buffer, after, position is null ? 0 : int.MaxValue);
            if (!closed && count == 0)
            {
                closed = await IsEndedAtAsync(store, id, next, context.RequestAborted);
                if (!closed && live == "long-poll")
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
                    timeout.CancelAfter(settings.LongPollTimeout);
                    try
                    {
                        closed = !await reader.WaitToReadAsync(timeout.Token);
                    }
                    catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
                    {
                        // Timed out: answer 204 below.
                    }

                    (next, count, var terminal) = Drain(reader, buffer, next, int.MaxValue);
                    closed |= terminal;
                }
            }

            response.Headers[DurableHeaders.NextOffset] = DurableOffset.Format(next);
            response.Headers[DurableHeaders.UpToDate] = "true";
            if (closed)
            {
                response.Headers[DurableHeaders.Closed] = "true";
            }
            else if (live.Length > 0)
            {
                response.Headers[DurableHeaders.Cursor] = DurableStreamEndpoints.Cursor(context, time);
            }

            response.Headers.CacheControl = "no-store";
            if (live == "long-poll" && count == 0)
            {
                response.StatusCode = StatusCodes.Status204NoContent;
                return;
            }

            response.ContentType = ContentType;
            response.Headers.ETag = $"\"{id}:{after}:{next}{(closed ? ":c" : string.Empty)}\"";
            await response.Body.WriteAsync(Wrap(buffer), context.RequestAborted);
        }
    }

    private static async Task StreamSseAsync(HttpContext context, IStreamStore store, IStreamReader reader, long after, DurableStreamOptions settings, TimeProvider time)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        lifetime.CancelAfter(settings.SseConnectionLifetime);
        var writer = response.BodyWriter;
        var buffer = new ArrayBufferWriter<byte>(1024);
        var next = after;
        var first = true;
        try
        {
            while (true)
            {
                buffer.ResetWrittenCount();
                (next, var count, var closed) = Drain(reader, buffer, next, int.MaxValue);
                if (!closed && count == 0 && first)
                {
                    closed = await IsEndedAtAsync(store, reader.StreamId, next, context.RequestAborted);
                }

                if (count > 0)
                {
                    DurableSse.WriteData(writer, Wrap(buffer));
                }

                if (count > 0 || closed || first)
                {
                    DurableSse.WriteControl(writer, next, DurableStreamEndpoints.Cursor(context, time), upToDate: true, closed);
                    await writer.FlushAsync(context.RequestAborted);
                }

                first = false;
                if (closed || !await reader.WaitToReadAsync(lifetime.Token))
                {
                    if (!closed)
                    {
                        DurableSse.WriteControl(writer, next, DurableStreamEndpoints.Cursor(context, time), upToDate: true, closed: true);
                        await writer.FlushAsync(context.RequestAborted);
                    }

                    return;
                }
            }
        }
        catch (OperationCanceledException) when (lifetime.IsCancellationRequested)
        {
            // The client left, or the connection reached its lifetime; clients reconnect from the last control offset.
        }
    }

    /// <summary>True when the generation has ended and <paramref name="next"/> is at or past its last event.</summary>
    private static async Task<bool> IsEndedAtAsync(IStreamStore store, string id, long next, CancellationToken cancellationToken)
        => await store.GetStatusAsync(id, cancellationToken) is { } status && status.State != StreamState.Running && next >= status.LastSeq;

    /// <summary>Writes the events available now as comma-separated JSON messages; returns the last seq, how many, and whether the terminal event was among them.</summary>
    private static (long Next, int Count, bool Closed) Drain(IStreamReader reader, ArrayBufferWriter<byte> buffer, long next, int max)
    {
        var count = 0;
        using var json = new Utf8JsonWriter(buffer, JsonWriting.Options);
        while (count < max && reader.TryRead(out var item))
        {
            if (buffer.WrittenCount > 0)
            {
                json.Flush();
                buffer.Write(","u8);
                json.Reset(buffer);
            }

            Write(json, item);
            json.Flush();
            json.Reset(buffer);
            next = item.Seq;
            count++;
            if (item.IsTerminal)
            {
                return (next, count, true);
            }
        }

        return (next, count, false);
    }

    private static void Write(Utf8JsonWriter json, in StreamEvent item)
    {
        json.WriteStartObject();
        json.WriteNumber("seq"u8, item.Seq);
        switch (item.Kind)
        {
            case StreamEventKind.Delta:
                json.WriteString("type"u8, "delta"u8);
                json.WriteString("text"u8, item.Text.Span);
                break;
            case StreamEventKind.Usage:
                json.WriteString("type"u8, "usage"u8);
                WriteUsage(json, item.Usage);
                WriteFinish(json, item.FinishReason);
                break;
            case StreamEventKind.Error:
                json.WriteString("type"u8, "error"u8);
                json.WriteStartObject("error"u8);
                json.WriteString("message"u8, item.Error?.Message);
                json.WriteString("type"u8, item.Error?.Type);
                json.WriteString("code"u8, item.Error?.Code);
                json.WriteEndObject();
                break;
            default:
                json.WriteString("type"u8, "done"u8);
                WriteFinish(json, item.FinishReason);
                WriteUsage(json, item.Usage);
                break;
        }

        json.WriteEndObject();
    }

    private static void WriteUsage(Utf8JsonWriter json, Usage usage)
    {
        json.WriteStartObject("usage"u8);
        json.WriteNumber("prompt_tokens"u8, usage.PromptTokens);
        json.WriteNumber("completion_tokens"u8, usage.CompletionTokens);
        json.WriteNumber("total_tokens"u8, usage.TotalTokens);
        json.WriteEndObject();
    }

    private static void WriteFinish(Utf8JsonWriter json, FinishReason reason)
    {
        if (reason.ToWire() is { } wire)
        {
            json.WriteString("finish_reason"u8, wire);
        }
        else
        {
            json.WriteNull("finish_reason"u8);
        }
    }

    private static byte[] Wrap(ArrayBufferWriter<byte> buffer)
    {
        var array = new byte[buffer.WrittenCount + 2];
        array[0] = (byte)'[';
        buffer.WrittenSpan.CopyTo(array.AsSpan(1));
        array[^1] = (byte)']';
        return array;
    }
}
