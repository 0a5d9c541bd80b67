using System.Buffers;
using System.Text.Json;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Hosting;

namespace Tokenflow.Server.OpenAi;

/// <summary>
/// Serves a stream reader as an HTTP response: an OpenAI chunk event stream, or one complete JSON
/// body for non-streaming requests. Shared by the completion endpoints and stream replay.
/// </summary>
internal static class ChunkStreamResponse
{
    /// <summary>Most events written before a flush while further events are already waiting.</summary>
    private const int FlushThreshold = 64;

    /// <summary>
    /// Streams events as SSE until the terminal event, flushing each one as it is written, with a
    /// comment heartbeat after <paramref name="heartbeat"/> of silence. Returns when the stream
    /// ends or the client goes away (the caller disposes the reader, which detaches it). With
    /// <paramref name="errorStatusBeforeOutput"/>, the response waits for the first event (at most one
    /// heartbeat): when that is an error with a <see cref="StreamError.Status"/> (an upstream's 429, 400,
    /// 502 …) the answer is that status, <c>Retry-After</c> and an OpenAI error object instead of a stream.
    /// </summary>
    public static async Task WriteEventStreamAsync(HttpContext context, IStreamReader reader, ChunkSseWriter writer, TimeSpan heartbeat, TimeProvider time, bool errorStatusBeforeOutput = false)
    {
        var response = context.Response;
        var cancellationToken = context.RequestAborted;
        var (hasFirst, first, waited) = (false, default(StreamEvent), false);
        if (errorStatusBeforeOutput)
        {
            try
            {
                (hasFirst, first) = await ReadFirstAsync(reader, heartbeat, time, cancellationToken);
                waited = !hasFirst;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }

            if (hasFirst && first.Kind == StreamEventKind.Error && first.Error is { Status: > 0 } error)
            {
                response.Headers["X-Stream-Id"] = reader.StreamId;
                await WriteErrorAsync(context, error, error.Status);
                return;
            }
        }

        response.StatusCode = StatusCodes.Status200OK;
        EventStreamResponse.Prepare(context);
        response.Headers["X-Stream-Id"] = reader.StreamId;

        var output = response.BodyWriter;
        var lastWrite = time.GetTimestamp();
        var check = heartbeat / 3;
        using var timer = time.CreateTimer(static s => ((IStreamReader)s!).Interrupt(), reader, check, check);
        try
        {
            await response.StartAsync(cancellationToken);
            if (hasFirst || waited)
            {
                // The first event waited for above, or — a model still in prefill — a heartbeat at once.
                if (hasFirst)
                {
                    writer.Write(in first);
                }
                else
                {
                    writer.WritePing();
                }

                if (!await FlushAsync(output, cancellationToken))
                {
                    return;
                }
            }

            while (!writer.Ended && await reader.WaitToReadAsync(cancellationToken))
            {
                var written = 0;
                var unflushed = false;
                while (!writer.Ended && reader.TryRead(out var streamEvent))
                {
                    writer.Write(in streamEvent);
                    written++;
                    unflushed = true;

                    // Each event is flushed as soon as it is written, unless the next one is already
                    // in the log: then both go out in one flush (at most FlushThreshold events), which
                    // is what Kestrel would coalesce anyway, minus a flush per token for fast models.
                    if (written % FlushThreshold != 0 && reader.HasBuffered)
                    {
                        continue;
                    }

                    unflushed = false;
                    if (!await FlushAsync(output, cancellationToken))
                    {
                        return;
                    }
                }

                if (unflushed && !await FlushAsync(output, cancellationToken))
                {
                    return;
                }

                if (written > 0)
                {
                    lastWrite = time.GetTimestamp();
                }
                else if (time.GetElapsedTime(lastWrite) >= heartbeat)
                {
                    writer.WritePing();
                    lastWrite = time.GetTimestamp();
                    await output.FlushAsync(cancellationToken);
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

    /// <summary>The first event, waiting at most <paramref name="limit"/>; false when none came in time.</summary>
    private static async ValueTask<(bool, StreamEvent)> ReadFirstAsync(IStreamReader reader, TimeSpan limit, TimeProvider time, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        // Periodic, not one-shot: a timer that fires a little early must not leave the wait without a wake-up.
        using var timer = time.CreateTimer(static s => ((IStreamReader)s!).Interrupt(), reader, limit, limit / 4);
        while (await reader.WaitToReadAsync(cancellationToken))
        {
            if (reader.TryRead(out var first))
            {
                return (true, first);
            }

            if (time.GetElapsedTime(started) >= limit)
            {
                break;
            }
        }

        return (false, default);
    }

    /// <summary>Sends <paramref name="error"/> as the whole response, with its <c>Retry-After</c> when it has one.</summary>
    private static Task WriteErrorAsync(HttpContext context, StreamError error, int status)
    {
        if (error.RetryAfter is { } retryAfter)
        {
            context.Response.Headers.RetryAfter = ((long)Math.Ceiling(Math.Max(0, retryAfter.TotalSeconds))).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return new OpenAiError(status, error.Message, error.Type, null, error.Code).WriteResponseAsync(context.Response);
    }

    /// <summary>Flushes the response; false when the client has gone and writing should stop.</summary>
    private static async ValueTask<bool> FlushAsync(System.IO.Pipelines.PipeWriter output, CancellationToken cancellationToken)
    {
        var flush = await output.FlushAsync(cancellationToken);
        return !flush.IsCompleted && !flush.IsCanceled;
    }

    /// <summary>
    /// Reads the whole stream and writes one <c>chat.completion</c> / <c>text_completion</c> body.
    /// A stream that ends with an error event becomes a 500 error object.
    /// </summary>
    public static async Task WriteCompleteAsync(HttpContext context, IStreamReader reader, CompletionKind kind, string model, long created)
    {
        var cancellationToken = context.RequestAborted;
        var output = new StreamOutput();
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken))
            {
                while (reader.TryRead(out var streamEvent))
                {
                    output.Add(in streamEvent);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return;
        }

        var final = output.Final;
        if (final.Kind == StreamEventKind.Error || final.Seq == 0)
        {
            var error = final.Error ?? new StreamError("The generation ended without a result.", "server_error", "stream_incomplete");
            context.Response.Headers["X-Stream-Id"] = reader.StreamId;
            await WriteErrorAsync(context, error, error.Status > 0 ? error.Status : StatusCodes.Status500InternalServerError);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        context.Response.Headers["X-Stream-Id"] = reader.StreamId;
        var body = new ArrayBufferWriter<byte>(output.Content.Length + 512);
        using (var w = new Utf8JsonWriter(body, JsonWriting.Options))
        {
            w.WriteStartObject();
            w.WriteString("id"u8, reader.StreamId);
            w.WriteString("object"u8, kind == CompletionKind.Chat ? "chat.completion"u8 : "text_completion"u8);
            w.WriteNumber("created"u8, created);
            w.WriteString("model"u8, model);
            w.WriteStartArray("choices"u8);
            w.WriteStartObject();
            w.WriteNumber("index"u8, 0);
            if (kind == CompletionKind.Chat)
            {
                WriteMessage(w, output);
            }
            else
            {
                w.WriteString("text"u8, output.Content);
            }

            w.WriteNull("logprobs"u8);
            w.WriteString("finish_reason"u8, final.FinishReason.ToWire());
            w.WriteEndObject();
            w.WriteEndArray();
            UsageJson.Write(w, final.Usage, final.Timings);
            if (output.Watches.Count > 0)
            {
                w.WriteStartObject("tokenflow"u8);
                w.WriteStartArray("watches"u8);
                foreach (var watch in output.Watches)
                {
                    w.WriteStartObject();
                    WatchJson.WriteFields(w, watch);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        await context.Response.Body.WriteAsync(body.WrittenMemory, cancellationToken);
    }

    /// <summary>
    /// The <c>message</c> of a chat completion as OpenAI shapes it: <c>content</c> (null when the
    /// model only called tools), <c>refusal</c>, <c>reasoning_content</c> (as vLLM and DeepSeek) and
    /// <c>tool_calls</c> — each call's arguments the concatenation of its streamed fragments.
    /// </summary>
    private static void WriteMessage(Utf8JsonWriter w, StreamOutput output)
    {
        w.WriteStartObject("message"u8);
        w.WriteString("role"u8, "assistant"u8);
        if (output.Content.IsEmpty && output.ToolCalls.Count > 0)
        {
            w.WriteNull("content"u8);
        }
        else
        {
            w.WriteString("content"u8, output.Content);
        }

        if (output.HasRefusal)
        {
            w.WriteString("refusal"u8, output.Refusal);
        }
        else
        {
            w.WriteNull("refusal"u8);
        }

        if (output.HasReasoning)
        {
            w.WriteString("reasoning_content"u8, output.Reasoning);
        }

        if (output.ToolCalls.Count > 0)
        {
            w.WriteStartArray("tool_calls"u8);
            foreach (var call in output.ToolCalls)
            {
                w.WriteStartObject();
                w.WriteString("id"u8, call.Id);
                w.WriteString("type"u8, "function"u8);
                w.WriteStartObject("function"u8);
                w.WriteString("name"u8, call.Name);
                w.WriteString("arguments"u8, call.Arguments);
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        w.WriteEndObject();
    }
}
