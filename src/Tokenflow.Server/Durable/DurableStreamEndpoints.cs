using System.Buffers;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Tokenflow.Core.Durable;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Hosting;

namespace Tokenflow.Server.Durable;

/// <summary>
/// The Durable Streams protocol 1.0 on <c>/v1/durable/{**path}</c>: translates HTTP to
/// <see cref="IDurableStreamStore"/> calls for client-created streams, and serves every generation of
/// <see cref="IStreamStore"/> read-only at its stream id (see <see cref="GenerationDurableStream"/>).
/// </summary>
internal static class DurableStreamEndpoints
{
    public const string Prefix = "/v1/durable";

    // Cursor intervals of §10.1: 20-second buckets counted from 2024-10-09T00:00:00Z.
    private static readonly DateTimeOffset CursorEpoch = new(2024, 10, 9, 0, 0, 0, TimeSpan.Zero);

    public static async Task HandleAsync(HttpContext context, string path, IDurableStreamStore store, IStreamStore generations, IOptions<DurableStreamOptions> options, TimeProvider time)
    {
        var response = context.Response;
        // Error bodies here are short text; keep the host's JSON status pages out of this door.
        context.Features.Get<IStatusCodePagesFeature>()?.Enabled = false;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Cross-Origin-Resource-Policy"] = "cross-origin";
        response.Headers.AccessControlAllowOrigin = "*";
        response.Headers.AccessControlExposeHeaders = DurableHeaders.Exposed;
        var method = context.Request.Method;
        if (HttpMethods.IsOptions(method))
        {
            response.Headers.AccessControlAllowMethods = "GET, HEAD, PUT, POST, DELETE, OPTIONS";
            response.Headers.AccessControlAllowHeaders = DurableHeaders.Allowed;
            response.Headers.AccessControlMaxAge = "86400";
            response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        var settings = options.Value;
        if (!IsValidPath(path, settings.MaxPathLength))
        {
            await FailAsync(response, StatusCodes.Status400BadRequest, "Invalid stream path.");
            return;
        }

        var owner = ApiKeys.OwnerOf(context);
        if (!path.Contains('/', StringComparison.Ordinal) && StreamIds.IsWellFormed(path)
            && await generations.GetDescriptorAsync(path, context.RequestAborted) is { } descriptor && ApiKeys.MayAccess(context, descriptor.Owner))
        {
            await GenerationDurableStream.HandleAsync(context, path, generations, settings, time);
            return;
        }

        if (HttpMethods.IsPut(method))
        {
            await CreateAsync(context, path, owner, store, settings);
        }
        else if (HttpMethods.IsPost(method))
        {
            await AppendAsync(context, path, owner, store, settings);
        }
        else if (HttpMethods.IsGet(method))
        {
            await ReadAsync(context, path, owner, store, settings, time);
        }
        else if (HttpMethods.IsHead(method))
        {
            var info = await store.GetInfoAsync(path, owner, context.RequestAborted);
            response.Headers.CacheControl = "no-store";
            if (info.Outcome == DurableOutcome.Ok)
            {
                WriteState(response, info);
                WriteExpiry(response, info.TtlSeconds, info.ExpiresAt);
            }

            response.StatusCode = StatusOf(info.Outcome);
        }
        else if (HttpMethods.IsDelete(method))
        {
            var result = await store.DeleteAsync(path, owner, context.RequestAborted);
            response.StatusCode = result.Outcome == DurableOutcome.Ok ? StatusCodes.Status204NoContent : StatusOf(result.Outcome);
        }
        else
        {
            response.Headers.Allow = "GET, HEAD, PUT, POST, DELETE, OPTIONS";
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
        }
    }

    /// <summary>Paths are relative, bounded, printable, without empty, <c>.</c> or <c>..</c> segments, and not under the reserved <c>__ds</c> prefix.</summary>
    internal static bool IsValidPath(string path, int maxLength)
    {
        if (path.Length == 0 || path.Length > maxLength || path.StartsWith("__ds", StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var c in path)
        {
            if (char.IsControl(c) || c == '\\')
            {
                return false;
            }
        }

        foreach (var range in path.AsSpan().Split('/'))
        {
            var segment = path.AsSpan(range);
            if (segment.IsEmpty || segment is "." or "..")
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The <c>Stream-Cursor</c> for a live response: the current interval, always past the client's cursor (§10.1).</summary>
    internal static string Cursor(HttpContext context, TimeProvider time)
    {
        var interval = (long)((time.GetUtcNow() - CursorEpoch).TotalSeconds / 20);
        if (long.TryParse(context.Request.Query["cursor"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var client) && client >= interval)
        {
            interval = client + Random.Shared.Next(1, 181);
        }

        return interval.ToString(CultureInfo.InvariantCulture);
    }

    internal static async Task FailAsync(HttpResponse response, int status, string message)
    {
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        await response.WriteAsync(message, response.HttpContext.RequestAborted);
    }

    private static async Task CreateAsync(HttpContext context, string path, string? owner, IDurableStreamStore store, DurableStreamOptions settings)
    {
        var headers = context.Request.Headers;
        var response = context.Response;
        long? ttl = null;
        DateTimeOffset? expiresAt = null;
        var ttlText = headers[DurableHeaders.Ttl].ToString();
        var expiresText = headers[DurableHeaders.ExpiresAt].ToString();
        if (ttlText.Length > 0)
        {
            if (!IsCanonicalInteger(ttlText, out var seconds))
            {
                await FailAsync(response, StatusCodes.Status400BadRequest, "Stream-TTL must be a non-negative integer without leading zeros.");
                return;
            }

            ttl = seconds;
        }

        if (expiresText.Length > 0)
        {
            if (!DateTimeOffset.TryParse(expiresText, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at))
            {
                await FailAsync(response, StatusCodes.Status400BadRequest, "Stream-Expires-At must be an RFC 3339 timestamp.");
                return;
            }

            expiresAt = at;
        }

        if (ttl is not null && expiresAt is not null)
        {
            await FailAsync(response, StatusCodes.Status400BadRequest, "Send Stream-TTL or Stream-Expires-At, not both.");
            return;
        }

        var forkedFrom = headers[DurableHeaders.ForkedFrom].ToString();
        var forkOffsetText = headers[DurableHeaders.ForkOffset].ToString();
        var subOffsetText = headers[DurableHeaders.ForkSubOffset].ToString();
        long? forkOffset = null;
        long subOffset = 0;
        if (forkedFrom.Length == 0 && (forkOffsetText.Length > 0 || headers.ContainsKey(DurableHeaders.ForkSubOffset)))
        {
            await FailAsync(response, StatusCodes.Status400BadRequest, "Stream-Fork-Offset and Stream-Fork-Sub-Offset need Stream-Forked-From.");
            return;
        }

        string? source = null;
        if (forkedFrom.Length > 0)
        {
            source = SourcePath(forkedFrom);
            if (source is null || !IsValidPath(source, settings.MaxPathLength))
            {
                await FailAsync(response, StatusCodes.Status400BadRequest, "Invalid Stream-Forked-From path.");
                return;
            }

            if (forkOffsetText.Length > 0)
            {
                if (!DurableOffset.TryParse(forkOffsetText, out forkOffset) || forkOffsetText is "now" or "-1")
                {
                    await FailAsync(response, StatusCodes.Status400BadRequest, "Invalid Stream-Fork-Offset.");
                    return;
                }
            }

            if (headers.ContainsKey(DurableHeaders.ForkSubOffset) && !IsCanonicalInteger(subOffsetText, out subOffset))
            {
                await FailAsync(response, StatusCodes.Status400BadRequest, "Stream-Fork-Sub-Offset must be a non-negative integer.");
                return;
            }
        }

        var body = await ReadBodyAsync(context, settings.MaxMessageBytes);
        if (body is null)
        {
            return;
        }

        var result = await store.CreateAsync(
            new DurableCreateRequest(path, owner)
            {
                ContentType = string.IsNullOrEmpty(context.Request.ContentType) ? null : context.Request.ContentType,
                TtlSeconds = ttl,
                ExpiresAt = expiresAt,
                Close = IsTrue(headers[DurableHeaders.Closed]),
                Body = body.Value,
                ForkedFrom = source,
                ForkOffset = forkOffset,
                ForkSubOffset = subOffset,
            },
            context.RequestAborted);
        if (result.Outcome is DurableOutcome.Created or DurableOutcome.Exists)
        {
            WriteState(response, result);
            if (result.Outcome == DurableOutcome.Created)
            {
                response.Headers.Location = context.Request.Scheme + "://" + context.Request.Host + context.Request.PathBase + context.Request.Path;
            }

            response.StatusCode = result.Outcome == DurableOutcome.Created ? StatusCodes.Status201Created : StatusCodes.Status200OK;
            return;
        }

        await FailAsync(response, StatusOf(result.Outcome), result.Message ?? result.Outcome.ToString());
    }

    private static async Task AppendAsync(HttpContext context, string path, string? owner, IDurableStreamStore store, DurableStreamOptions settings)
    {
        var headers = context.Request.Headers;
        var response = context.Response;
        var producerId = headers[DurableHeaders.ProducerId];
        var epochText = headers[DurableHeaders.ProducerEpoch];
        var seqText = headers[DurableHeaders.ProducerSeq];
        var present = (producerId.Count > 0 ? 1 : 0) + (epochText.Count > 0 ? 1 : 0) + (seqText.Count > 0 ? 1 : 0);
        long epoch = 0;
        long seq = 0;
        if (present is not 0 and not 3
            || (present == 3 && (producerId.ToString().Length == 0 || !IsProducerNumber(epochText.ToString(), out epoch) || !IsProducerNumber(seqText.ToString(), out seq))))
        {
            await FailAsync(response, StatusCodes.Status400BadRequest, "Producer-Id, Producer-Epoch and Producer-Seq go together; epoch and seq are integers from 0 to 2^53-1.");
            return;
        }

        var body = await ReadBodyAsync(context, settings.MaxMessageBytes);
        if (body is null)
        {
            return;
        }

        var close = IsTrue(headers[DurableHeaders.Closed]);
        if (!body.Value.IsEmpty && string.IsNullOrEmpty(context.Request.ContentType))
        {
            await FailAsync(response, StatusCodes.Status400BadRequest, "An append needs a Content-Type.");
            return;
        }

        var streamSeq = headers[DurableHeaders.Seq].ToString();
        var result = await store.AppendAsync(
            new DurableAppendRequest(path, owner)
            {
                ContentType = context.Request.ContentType,
                Body = body.Value,
                Close = close,
                StreamSeq = streamSeq.Length > 0 ? streamSeq : null,
                ProducerId = present == 3 ? producerId.ToString() : null,
                ProducerEpoch = epoch,
                ProducerSeq = seq,
            },
            context.RequestAborted);
        if (result.ProducerEpoch is { } e)
        {
            response.Headers[DurableHeaders.ProducerEpoch] = e.ToString(CultureInfo.InvariantCulture);
        }

        if (result.ProducerSeq is { } s)
        {
            response.Headers[DurableHeaders.ProducerSeq] = s.ToString(CultureInfo.InvariantCulture);
        }

        switch (result.Outcome)
        {
            case DurableOutcome.Ok or DurableOutcome.Duplicate or DurableOutcome.Accepted:
                WriteState(response, result);
                response.Headers.ContentType = default;
                response.StatusCode = result.Outcome == DurableOutcome.Accepted && !body.Value.IsEmpty ? StatusCodes.Status200OK : StatusCodes.Status204NoContent;
                return;
            case DurableOutcome.Closed:
                response.Headers[DurableHeaders.Closed] = "true";
                response.Headers[DurableHeaders.NextOffset] = DurableOffset.Format(result.Tail);
                break;
            case DurableOutcome.SequenceGap:
                response.Headers[DurableHeaders.ProducerExpectedSeq] = result.ExpectedSeq?.ToString(CultureInfo.InvariantCulture);
                response.Headers[DurableHeaders.ProducerReceivedSeq] = result.ReceivedSeq?.ToString(CultureInfo.InvariantCulture);
                break;
            case DurableOutcome.Full:
                response.Headers.RetryAfter = "1";
                break;
        }

        await FailAsync(response, StatusOf(result.Outcome), result.Message ?? result.Outcome.ToString());
    }

    private static async Task ReadAsync(HttpContext context, string path, string? owner, IDurableStreamStore store, DurableStreamOptions settings, TimeProvider time)
    {
        var response = context.Response;
        var query = context.Request.Query;
        var live = query["live"].ToString();
        var offsetValues = query["offset"];
        if (offsetValues.Count > 1 || (offsetValues.Count == 1 && offsetValues.ToString().Length == 0) || !DurableOffset.TryParse(offsetValues.ToString(), out var position)
            || (live.Length > 0 && live is not "long-poll" and not "sse")
            || (live.Length > 0 && offsetValues.Count == 0))
        {
            await FailAsync(response, StatusCodes.Status400BadRequest, "Invalid offset or live mode.");
            return;
        }

        var read = await store.ReadAsync(path, owner, position, context.RequestAborted);
        if (read.Outcome != DurableOutcome.Ok)
        {
            await FailAsync(response, StatusOf(read.Outcome), read.Message ?? read.Outcome.ToString());
            return;
        }

        if (live == "sse")
        {
            await StreamSseAsync(context, path, owner, store, settings, time, read);
            return;
        }

        if (live == "long-poll")
        {
            if (read.Chunks.Count == 0 && !read.Closed)
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
                timeout.CancelAfter(settings.LongPollTimeout);
                if (await WaitForNewAsync(store, path, owner, read.Start, timeout.Token, context.RequestAborted) is { } next)
                {
                    if (next.Outcome != DurableOutcome.Ok)
                    {
                        await FailAsync(response, StatusOf(next.Outcome), next.Outcome.ToString());
                        return;
                    }

                    read = next;
                }
            }

            if (!read.Closed)
            {
                response.Headers[DurableHeaders.Cursor] = Cursor(context, time);
            }

            if (read.Chunks.Count == 0)
            {
                WriteReadHeaders(response, read);
                response.Headers.CacheControl = "no-store";
                response.StatusCode = StatusCodes.Status204NoContent;
                return;
            }
        }

        WriteReadHeaders(response, read);
        if (position is null)
        {
            response.Headers.CacheControl = "no-store";
        }
        else
        {
            var etag = $"\"{read.StreamKey}:{read.Start}:{read.Next}{(read.Closed ? ":c" : string.Empty)}\"";
            response.Headers.ETag = etag;
            response.Headers.CacheControl = "private, max-age=60, stale-while-revalidate=300";
            if (context.Request.Headers.IfNoneMatch.ToString() == etag)
            {
                response.StatusCode = StatusCodes.Status304NotModified;
                return;
            }
        }

        response.ContentType = read.ContentType;
        await WriteBodyAsync(response, read);
    }

    private static async Task StreamSseAsync(HttpContext context, string path, string? owner, IDurableStreamStore store, DurableStreamOptions settings, TimeProvider time, DurableReadResult read)
    {
        var response = context.Response;
        var binary = !read.IsJson && !read.ContentType.StartsWith("text/", StringComparison.OrdinalIgnoreCase);
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        if (binary)
        {
            response.Headers[DurableHeaders.SseDataEncoding] = "base64";
        }

        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        lifetime.CancelAfter(settings.SseConnectionLifetime);
        var writer = response.BodyWriter;
        try
        {
            while (true)
            {
                if (read.Chunks.Count > 0)
                {
                    if (binary)
                    {
                        DurableSse.WriteBase64Data(writer, Concat(read.Chunks));
                    }
                    else
                    {
                        DurableSse.WriteData(writer, read.IsJson ? JsonArray(read.Chunks) : Concat(read.Chunks));
                    }
                }

                DurableSse.WriteControl(writer, read.Next, Cursor(context, time), read.UpToDate, read.Closed);
                await writer.FlushAsync(context.RequestAborted);
                if (read.Closed)
                {
                    return;
                }

                var next = read.UpToDate
                    ? await WaitForNewAsync(store, path, owner, read.Next, lifetime.Token, context.RequestAborted)
                    : await store.ReadAsync(path, owner, read.Next, context.RequestAborted);
                if (next is null || next.Outcome != DurableOutcome.Ok)
                {
                    return;
                }

                read = next;
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
    }

    private static async Task WriteBodyAsync(HttpResponse response, DurableReadResult read)
    {
        if (read.IsJson)
        {
            await response.Body.WriteAsync(JsonArray(read.Chunks), response.HttpContext.RequestAborted);
            return;
        }

        foreach (var chunk in read.Chunks)
        {
            await response.Body.WriteAsync(chunk, response.HttpContext.RequestAborted);
        }
    }

    private static byte[] JsonArray(IReadOnlyList<ReadOnlyMemory<byte>> messages)
    {
        var length = 2 + Math.Max(0, messages.Count - 1);
        foreach (var message in messages)
        {
            length += message.Length;
        }

        var buffer = new byte[length];
        buffer[0] = (byte)'[';
        var at = 1;
        for (var i = 0; i < messages.Count; i++)
        {
            if (i > 0)
            {
                buffer[at++] = (byte)',';
            }

            messages[i].Span.CopyTo(buffer.AsSpan(at));
            at += messages[i].Length;
        }

        buffer[at] = (byte)']';
        return buffer;
    }

    private static byte[] Concat(IReadOnlyList<ReadOnlyMemory<byte>> chunks)
    {
        if (chunks.Count == 1)
        {
            return chunks[0].ToArray();
        }

        var buffer = new byte[chunks.Sum(c => c.Length)];
        var at = 0;
        foreach (var chunk in chunks)
        {
            chunk.Span.CopyTo(buffer.AsSpan(at));
            at += chunk.Length;
        }

        return buffer;
    }

    private static void WriteReadHeaders(HttpResponse response, DurableReadResult read)
    {
        response.Headers[DurableHeaders.NextOffset] = DurableOffset.Format(read.Next);
        if (read.UpToDate)
        {
            response.Headers[DurableHeaders.UpToDate] = "true";
        }

        if (read.Closed)
        {
            response.Headers[DurableHeaders.Closed] = "true";
        }
    }

    private static void WriteState(HttpResponse response, DurableStreamResult result)
    {
        if (result.ContentType is not null)
        {
            response.Headers.ContentType = result.ContentType;
        }

        response.Headers[DurableHeaders.NextOffset] = DurableOffset.Format(result.Tail);
        if (result.Closed)
        {
            response.Headers[DurableHeaders.Closed] = "true";
        }
    }

    private static void WriteExpiry(HttpResponse response, long? ttl, DateTimeOffset? expiresAt)
    {
        if (ttl is { } seconds)
        {
            response.Headers[DurableHeaders.Ttl] = seconds.ToString(CultureInfo.InvariantCulture);
        }

        if (expiresAt is { } at)
        {
            response.Headers[DurableHeaders.ExpiresAt] = at.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        }
    }

    /// <summary>
    /// Waits until a read from <paramref name="from"/> brings something new (data, closure or a failure) and returns it;
    /// null when <paramref name="wait"/> fires first. A wake-up can come before the data is readable here (another
    /// process' append announced by pub/sub first): an empty read waits again rather than answer early.
    /// </summary>
    private static async Task<DurableReadResult?> WaitForNewAsync(IDurableStreamStore store, string path, string? owner, long from, CancellationToken wait, CancellationToken aborted)
    {
        while (await store.WaitAsync(path, from, wait))
        {
            var read = await store.ReadAsync(path, owner, from, aborted);
            if (read.Outcome != DurableOutcome.Ok || read.Chunks.Count > 0 || read.Closed || read.Next != from)
            {
                return read;
            }
        }

        return null;
    }

    /// <summary>Reads the whole request body (chunked too), or answers 413 and returns null when it exceeds <paramref name="limit"/>.</summary>
    private static async Task<ReadOnlyMemory<byte>?> ReadBodyAsync(HttpContext context, int limit)
    {
        if (context.Request.ContentLength is { } declared && declared > limit)
        {
            await FailAsync(context.Response, StatusCodes.Status413PayloadTooLarge, $"The body exceeds {limit} bytes.");
            return null;
        }

        // The body stays in the request pipe until it is complete, then is copied once.
        var reader = context.Request.BodyReader;
        while (true)
        {
            var read = await reader.ReadAsync(context.RequestAborted);
            var buffer = read.Buffer;
            if (buffer.Length > limit)
            {
                reader.AdvanceTo(buffer.End);
                await FailAsync(context.Response, StatusCodes.Status413PayloadTooLarge, $"The body exceeds {limit} bytes.");
                return null;
            }

            if (read.IsCompleted)
            {
                byte[] body = buffer.IsEmpty ? [] : buffer.ToArray();
                reader.AdvanceTo(buffer.End);
                return body;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>The store path of a <c>Stream-Forked-From</c> value: a path relative to the stream root, or an absolute path under <see cref="Prefix"/>.</summary>
    private static string? SourcePath(string value)
    {
        if (Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
        {
            value = uri.AbsolutePath;
        }

        if (value.StartsWith(Prefix + "/", StringComparison.Ordinal))
        {
            value = value[(Prefix.Length + 1)..];
        }

        return Uri.UnescapeDataString(value.TrimStart('/'));
    }

    private static bool IsTrue(Microsoft.Extensions.Primitives.StringValues value)
        => string.Equals(value.ToString(), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>A decimal integer without sign, leading zeros, point or exponent (§5.1 Stream-TTL).</summary>
    private static bool IsCanonicalInteger(string text, out long value)
    {
        value = 0;
        return text.Length > 0 && text.Length <= 18 && (text == "0" || text[0] != '0')
            && text.All(char.IsAsciiDigit) && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    private static bool IsProducerNumber(string text, out long value)
        => long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value <= (1L << 53) - 1;

    internal static int StatusOf(DurableOutcome outcome) => outcome switch
    {
        DurableOutcome.Ok or DurableOutcome.Exists => StatusCodes.Status200OK,
        DurableOutcome.Created => StatusCodes.Status201Created,
        DurableOutcome.Accepted => StatusCodes.Status200OK,
        DurableOutcome.Duplicate => StatusCodes.Status204NoContent,
        DurableOutcome.NotFound => StatusCodes.Status404NotFound,
        DurableOutcome.Gone => StatusCodes.Status410Gone,
        DurableOutcome.Conflict or DurableOutcome.Closed or DurableOutcome.SequenceGap => StatusCodes.Status409Conflict,
        DurableOutcome.StaleEpoch => StatusCodes.Status403Forbidden,
        DurableOutcome.Full => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status400BadRequest,
    };
}
