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
    /// ends or the client goes away (the caller disposes the reader, which detaches it).
    /// </summary>
    public static async Task WriteEventStreamAsync(HttpContext context, IStreamReader reader, ChunkSseWriter writer, TimeSpan heartbeat, TimeProvider time)
    {
        var response = context.Response;
        var cancellationToken = context.RequestAborted;
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
            await new OpenAiError(StatusCodes.Status500InternalServerError, error.Message, error.Type, null, error.Code).WriteResponseAsync(context.Response);
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
