using System.Buffers;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Hosting;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Anthropic;

/// <summary>
/// <c>POST /v1/messages</c>, the Anthropic Messages API, on the same streams as every other door: the message id
/// (<c>msg_…</c>) is a stream id, so <c>/v1/streams/{id}</c>, <c>/events</c> (replayed in this framing), cancel
/// and the durable door all work on it. Errors come in Anthropic's shape.
/// </summary>
internal static class MessagesEndpoints
{
    public static IEndpointConventionBuilder MapMessages(this IEndpointRouteBuilder endpoints)
        => endpoints.MapPost("/v1/messages", HandleAsync);

    private static async Task HandleAsync(HttpContext context, MessagesRequestParser parser, GenerationRunner runner, IStreamStore store, IOptions<TokenflowOptions> options, TimeProvider time)
    {
        MessagesRequest? request = null;
        var owner = ApiKeys.OwnerOf(context);
        var error = await JsonRequestBody.ReadAsync(context, root => parser.Parse(root, owner, out request));

        if (error is not null)
        {
            await AnthropicError.WriteResponseAsync(context.Response, error);
            return;
        }

        var start = await runner.StartAsync(request!.Model, request.Backend, request.Generation, context.RequestAborted);
        if (start.Status != StreamCreateStatus.Created)
        {
            await AnthropicError.WriteResponseAsync(context.Response, OpenAiError.StartRefused(start.Status));
            return;
        }

        var (_, reader) = await store.OpenReaderAsync(start.StreamId!, 0, CancellationToken.None);
        await using (reader!)
        {
            if (request.Stream)
            {
                await WriteEventStreamAsync(context, reader!, request.Model.Id, 0, options.Value.HeartbeatInterval, time);
            }
            else
            {
                await WriteMessageAsync(context, reader!, request.Model.Id);
            }
        }
    }

    /// <summary>
    /// Streams the Anthropic event sequence. For a fresh response (<paramref name="after"/> 0) the first event is
    /// awaited before the status line (at most one heartbeat interval), so an upstream's 429 or 400 before any
    /// output is answered with its status; a replay from <paramref name="after"/> re-reads the events before it
    /// silently to continue the same block numbering.
    /// </summary>
    public static async Task WriteEventStreamAsync(HttpContext context, IStreamReader reader, string model, long after, TimeSpan heartbeat, TimeProvider time)
    {
        var response = context.Response;
        var cancellationToken = context.RequestAborted;
        var output = response.BodyWriter;
        using var writer = new MessagesSseWriter(output, reader.StreamId, model, after);
        StreamEvent first = default;
        try
        {
            if (after == 0)
            {
                using var wait = new CancellationTokenSource(heartbeat, time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, wait.Token);
                try
                {
                    if (await reader.WaitToReadAsync(linked.Token) && reader.TryRead(out first)
                        && first.Kind == StreamEventKind.Error && first.Error is { Status: not 0 } early)
                    {
                        if (early.RetryAfter is { } retry)
                        {
                            response.Headers.RetryAfter = ((long)Math.Ceiling(retry.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                        }

                        await AnthropicError.WriteResponseAsync(response, new OpenAiError(early.Status, early.Message, early.Type, null, early.Code));
                        return;
                    }
                }
                catch (OperationCanceledException) when (wait.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    // Still in prefill after a heartbeat interval: start the response and keep it alive.
                }
            }

            response.StatusCode = StatusCodes.Status200OK;
            EventStreamResponse.Prepare(context);
            response.Headers["X-Stream-Id"] = reader.StreamId;
            await response.StartAsync(cancellationToken);
            if (after == 0)
            {
                writer.WriteStart();
                if (first.Seq != 0)
                {
                    writer.Write(in first);
                }

                await output.FlushAsync(cancellationToken);
            }

            var lastWrite = time.GetTimestamp();
            using var timer = time.CreateTimer(static s => ((IStreamReader)s!).Interrupt(), reader, heartbeat / 3, heartbeat / 3);
            while (!writer.Ended && await reader.WaitToReadAsync(cancellationToken))
            {
                var any = false;
                while (!writer.Ended && reader.TryRead(out var item))
                {
                    writer.Write(in item);
                    any = true;
                }

                if (any)
                {
                    lastWrite = time.GetTimestamp();
                }
                else if (time.GetElapsedTime(lastWrite) >= heartbeat)
                {
                    writer.WritePing();
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

    /// <summary>Reads the whole stream and answers with one Anthropic <c>message</c> object.</summary>
    private static async Task WriteMessageAsync(HttpContext context, IStreamReader reader, string model)
    {
        var cancellationToken = context.RequestAborted;
        var output = new StreamOutput();
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken))
            {
                while (reader.TryRead(out var item))
                {
                    output.Add(in item);
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
            var failure = final.Error ?? new StreamError("The generation ended without a result.", "server_error", "stream_incomplete");
            await AnthropicError.WriteResponseAsync(context.Response, new OpenAiError(failure.Status != 0 ? failure.Status : StatusCodes.Status500InternalServerError, failure.Message, failure.Type, null, failure.Code));
            return;
        }

        var body = new ArrayBufferWriter<byte>(output.Content.Length + 512);
        using (var w = new Utf8JsonWriter(body, JsonWriting.Options))
        {
            w.WriteStartObject();
            w.WriteString("id"u8, reader.StreamId);
            w.WriteString("type"u8, "message"u8);
            w.WriteString("role"u8, "assistant"u8);
            w.WriteString("model"u8, model);
            w.WriteStartArray("content"u8);
            if (output.HasReasoning)
            {
                w.WriteStartObject();
                w.WriteString("type"u8, "thinking"u8);
                w.WriteString("thinking"u8, output.Reasoning);
                w.WriteString("signature"u8, ""u8);
                w.WriteEndObject();
            }

            if (!output.Content.IsEmpty || output.HasRefusal || output.ToolCalls.Count == 0)
            {
                w.WriteStartObject();
                w.WriteString("type"u8, "text"u8);
                w.WriteString("text"u8, output.HasRefusal ? [.. output.Content, .. output.Refusal] : output.Content);
                w.WriteEndObject();
            }

            foreach (var call in output.ToolCalls)
            {
                w.WriteStartObject();
                w.WriteString("type"u8, "tool_use"u8);
                w.WriteString("id"u8, call.Id);
                w.WriteString("name"u8, call.Name);
                w.WritePropertyName("input"u8);
                WriteInput(w, call.Arguments);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            MessagesSseWriter.WriteStopReason(w, in final);
            w.WriteStartObject("usage"u8);
            w.WriteNumber("input_tokens"u8, final.Usage.PromptTokens);
            w.WriteNumber("output_tokens"u8, final.Usage.CompletionTokens);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        context.Response.Headers["X-Stream-Id"] = reader.StreamId;
        await context.Response.Body.WriteAsync(body.WrittenMemory, cancellationToken);
    }

    /// <summary>A tool call's arguments as the <c>input</c> object; text that is not a JSON object (a cut call) becomes <c>{}</c>.</summary>
    private static void WriteInput(Utf8JsonWriter w, ReadOnlySpan<byte> arguments)
    {
        var reader = new Utf8JsonReader(arguments);
        try
        {
            if (JsonDocument.TryParseValue(ref reader, out var document))
            {
                using (document)
                {
                    if (document.RootElement.ValueKind == JsonValueKind.Object)
                    {
                        document.RootElement.WriteTo(w);
                        return;
                    }
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON (a call cut by max_tokens): fall through.
        }

        w.WriteStartObject();
        w.WriteEndObject();
    }
}
