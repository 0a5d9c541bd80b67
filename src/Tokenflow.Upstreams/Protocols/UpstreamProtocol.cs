using System.Buffers;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Streams;

namespace Tokenflow.Upstreams.Protocols;

/// <summary>
/// One provider's wire format: the streaming request for a <see cref="BackendRequest"/>, the parse of its
/// stream into <see cref="TokenPiece"/>s (usage and finish reason set on the request), and its model list.
/// The read loop is shared: a protocol says how its body is framed (<see cref="Ndjson"/>) and parses each
/// item with its <see cref="StreamParser"/>.
/// </summary>
internal abstract class UpstreamProtocol
{
    private Endpoint[] _endpoints = [];

    /// <summary>The request that starts a streamed generation of <paramref name="modelId"/>.</summary>
    public abstract HttpRequestMessage CreateGenerateRequest(Uri baseUri, BackendRequest request, string modelId);

    /// <summary>Whether the stream is newline-delimited JSON (Ollama) rather than server-sent events.</summary>
    protected virtual bool Ndjson => false;

    /// <summary>The parse state for one response to <paramref name="request"/>.</summary>
    protected abstract StreamParser CreateParser(BackendRequest request);

    /// <summary>
    /// Reads a successful response body as pieces. Throws <see cref="ModelBackendException"/> for an error the
    /// upstream reports in the stream, and <see cref="UpstreamErrors.Incomplete"/>'s when the body ends before
    /// the protocol's end marker: a cut-off stream never looks complete.
    /// </summary>
    public IAsyncEnumerable<TokenPiece> ReadAsync(Stream body, BackendRequest request, CancellationToken cancellationToken)
        => Ndjson
            ? ReadAsync(body, request, static (body, parser, ct) => NdjsonReader.EnumerateAsync(body, parser.Parse, ct), cancellationToken)
            : ReadAsync(body, request, static (body, parser, ct) => SseParser.Create(body, parser.Parse).EnumerateAsync(ct), cancellationToken);

    /// <summary>The one read loop: frames the body into items, parses each, yields its pieces, stops at the end marker.</summary>
    private async IAsyncEnumerable<TokenPiece> ReadAsync<TItem>(
        Stream body, BackendRequest request, Func<Stream, StreamParser, CancellationToken, IAsyncEnumerable<TItem>> frame, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var parser = CreateParser(request);
        await foreach (var _ in frame(body, parser, cancellationToken).ConfigureAwait(false))
        {
            var batch = parser.Batch;
            for (var i = 0; i < batch.Count; i++)
            {
                yield return batch[i];
            }

            if (parser.Ended)
            {
                await DrainAsync(body, cancellationToken).ConfigureAwait(false);
                yield break;
            }
        }

        if (!parser.Complete)
        {
            throw UpstreamErrors.Incomplete(UpstreamName);
        }
    }

    /// <summary>The request for the upstream's model list.</summary>
    public abstract HttpRequestMessage CreateModelListRequest(Uri baseUri);

    /// <summary>The model ids in a model list response.</summary>
    public abstract IReadOnlyList<string> ParseModelList(ReadOnlySpan<byte> body);

    /// <summary>The upstream's name, for error messages (set by <see cref="Upstream"/>).</summary>
    public string UpstreamName { get; set; } = "upstream";

    /// <summary>A POST of the JSON body <paramref name="write"/> writes (into a pooled buffer, returned when the message is disposed).</summary>
    protected static HttpRequestMessage Post(Uri uri, Action<Utf8JsonWriter> write)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, uri) { Content = JsonRequestContent.Create(write, static (w, write) => write(w)) };

        // Sent as is: parsing the list into header objects costs ~0.5 KB per request for a constant.
        message.Headers.TryAddWithoutValidation("Accept", "text/event-stream, application/x-ndjson, application/json");
        return message;
    }

    /// <summary><paramref name="relative"/> resolved against <paramref name="baseUri"/>, cached: a new <see cref="Uri"/> per request costs ~0.5 KB.</summary>
    protected Uri Resolve(Uri baseUri, string relative)
    {
        var endpoints = _endpoints;
        foreach (var e in endpoints)
        {
            if (ReferenceEquals(e.Base, baseUri) && string.Equals(e.Relative, relative, StringComparison.Ordinal))
            {
                return e.Uri;
            }
        }

        var uri = new Uri(baseUri, relative);
        if (endpoints.Length < 8)
        {
            // A racing writer may drop another's entry: it is only a cache.
            _endpoints = [.. endpoints, new Endpoint(baseUri, relative, uri)];
        }

        return uri;
    }

    /// <summary>
    /// After the end marker, reads what is left of the body (normally nothing but the chunked terminator),
    /// so the connection goes back to the pool; gives up after a second (then disposal closes it).
    /// </summary>
    protected static async ValueTask DrainAsync(Stream body, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(1));
        var scratch = ArrayPool<byte>.Shared.Rent(512);
        try
        {
            while (await body.ReadAsync(scratch, timeout.Token).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
        {
            // The upstream kept the stream open past its end marker: the connection is closed instead.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    protected static FinishReason ParseFinish(ReadOnlySpan<byte> reason) => reason switch
    {
        _ when reason.SequenceEqual("stop"u8) || reason.SequenceEqual("end_turn"u8) || reason.SequenceEqual("stop_sequence"u8) || reason.SequenceEqual("eos"u8) => FinishReason.Stop,
        _ when reason.SequenceEqual("length"u8) || reason.SequenceEqual("max_tokens"u8) || reason.SequenceEqual("model_context_window_exceeded"u8) => FinishReason.Length,
        _ when reason.SequenceEqual("tool_calls"u8) || reason.SequenceEqual("tool_use"u8) || reason.SequenceEqual("function_call"u8) => FinishReason.ToolCalls,
        _ when reason.SequenceEqual("content_filter"u8) || reason.SequenceEqual("refusal"u8) => FinishReason.ContentFilter,
        _ => FinishReason.Stop,
    };

    /// <summary>Writes <paramref name="values"/> as a string array property; nothing when there are none.</summary>
    protected static void WriteStrings(Utf8JsonWriter w, ReadOnlySpan<byte> name, IReadOnlyList<string>? values)
    {
        if (values is not { Count: > 0 })
        {
            return;
        }

        w.WriteStartArray(name);
        foreach (var value in values)
        {
            w.WriteStringValue(value);
        }

        w.WriteEndArray();
    }

    /// <summary>Writes a JSON Schema element, or an empty object schema.</summary>
    protected static void WriteSchema(Utf8JsonWriter w, JsonElement? schema)
    {
        if (schema is { ValueKind: JsonValueKind.Object } s)
        {
            s.WriteTo(w);
        }
        else
        {
            w.WriteStartObject();
            w.WriteString("type"u8, "object"u8);
            w.WriteStartObject("properties"u8);
            w.WriteEndObject();
            w.WriteEndObject();
        }
    }

    /// <summary>Reads an integer property value, or null.</summary>
    protected static int? ReadInt(ref Utf8JsonReader reader)
        => reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var n) ? n : null;

    /// <summary>Skips the value the reader is on (after a property name, call Read first).</summary>
    protected static void SkipValue(ref Utf8JsonReader reader)
    {
        reader.Read();
        reader.Skip();
    }

    private sealed record Endpoint(Uri Base, string Relative, Uri Uri);
}
