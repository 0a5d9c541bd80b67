using System.Globalization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Tokenflow.Core.Durable;

namespace Tokenflow.Server.Durable;

/// <summary>
/// Reads Durable Streams requests, in one place: paths, offsets and live modes, create and append headers, bodies
/// and conditional headers. Each <c>TryParse…</c> returns the request or the 400 message to answer with.
/// </summary>
internal static class DurableRequestParser
{
    /// <summary>Paths are relative, bounded, printable, without empty, <c>.</c> or <c>..</c> segments, and not under the reserved <c>__ds</c> prefix.</summary>
    public static bool IsValidPath(string path, int maxLength)
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

    /// <summary>The <c>offset</c>, <c>live</c> and <c>cursor</c> query parameters of a read; a live mode needs an offset.</summary>
    public static bool TryParseRead(HttpRequest request, out DurableReadQuery query, out string? error)
    {
        var values = request.Query;
        var live = values["live"].ToString();
        var offsets = values["offset"];
        var mode = live switch
        {
            "" => DurableLiveMode.None,
            "long-poll" => DurableLiveMode.LongPoll,
            "sse" => DurableLiveMode.Sse,
            _ => (DurableLiveMode?)null,
        };
        if (offsets.Count > 1 || (offsets.Count == 1 && offsets.ToString().Length == 0) || !DurableOffset.TryParse(offsets.ToString(), out var position)
            || mode is null || (mode != DurableLiveMode.None && offsets.Count == 0))
        {
            query = default;
            error = "Invalid offset or live mode.";
            return false;
        }

        long? cursor = long.TryParse(values["cursor"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var c) ? c : null;
        query = new DurableReadQuery(position, mode.Value, cursor);
        error = null;
        return true;
    }

    /// <summary>
    /// True when <c>If-None-Match</c> matches <paramref name="etag"/>: <c>*</c>, or any tag of its list by the weak
    /// comparison RFC 9110 §13.1.2 prescribes (so <c>W/"x"</c> matches <c>"x"</c>).
    /// </summary>
    public static bool IsNotModified(HttpRequest request, string etag)
    {
        if (request.Headers.IfNoneMatch.Count == 0)
        {
            return false;
        }

        var current = new EntityTagHeaderValue(etag);
        foreach (var tag in request.GetTypedHeaders().IfNoneMatch)
        {
            if (tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(current, useStrongComparison: false))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A <c>PUT</c>'s headers: TTL or expiry, closure, and the fork source and point. The body is added once read.</summary>
    public static bool TryParseCreate(HttpRequest request, string path, string? owner, int maxPathLength, out DurableCreateRequest create, out string? error)
    {
        var headers = request.Headers;
        create = new DurableCreateRequest(path, owner);
        long? ttl = null;
        DateTimeOffset? expiresAt = null;
        var ttlText = headers[DurableHeaders.Ttl].ToString();
        var expiresText = headers[DurableHeaders.ExpiresAt].ToString();
        if (ttlText.Length > 0)
        {
            if (!IsCanonicalInteger(ttlText, out var seconds))
            {
                error = "Stream-TTL must be a non-negative integer without leading zeros.";
                return false;
            }

            ttl = seconds;
        }

        if (expiresText.Length > 0)
        {
            if (!DateTimeOffset.TryParse(expiresText, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at))
            {
                error = "Stream-Expires-At must be an RFC 3339 timestamp.";
                return false;
            }

            expiresAt = at;
        }

        if (ttl is not null && expiresAt is not null)
        {
            error = "Send Stream-TTL or Stream-Expires-At, not both.";
            return false;
        }

        var forkedFrom = headers[DurableHeaders.ForkedFrom].ToString();
        var forkOffsetText = headers[DurableHeaders.ForkOffset].ToString();
        var subOffsetText = headers[DurableHeaders.ForkSubOffset].ToString();
        long? forkOffset = null;
        long subOffset = 0;
        if (forkedFrom.Length == 0 && (forkOffsetText.Length > 0 || headers.ContainsKey(DurableHeaders.ForkSubOffset)))
        {
            error = "Stream-Fork-Offset and Stream-Fork-Sub-Offset need Stream-Forked-From.";
            return false;
        }

        string? source = null;
        if (forkedFrom.Length > 0)
        {
            source = SourcePath(forkedFrom);
            if (source is null || !IsValidPath(source, maxPathLength))
            {
                error = "Invalid Stream-Forked-From path.";
                return false;
            }

            if (forkOffsetText.Length > 0 && (!DurableOffset.TryParse(forkOffsetText, out forkOffset) || forkOffsetText is "now" or "-1"))
            {
                error = "Invalid Stream-Fork-Offset.";
                return false;
            }

            if (headers.ContainsKey(DurableHeaders.ForkSubOffset) && !IsCanonicalInteger(subOffsetText, out subOffset))
            {
                error = "Stream-Fork-Sub-Offset must be a non-negative integer.";
                return false;
            }
        }

        create = create with
        {
            ContentType = string.IsNullOrEmpty(request.ContentType) ? null : request.ContentType,
            TtlSeconds = ttl,
            ExpiresAt = expiresAt,
            Close = IsTrue(headers[DurableHeaders.Closed]),
            ForkedFrom = source,
            ForkOffset = forkOffset,
            ForkSubOffset = subOffset,
        };
        error = null;
        return true;
    }

    /// <summary>A <c>POST</c>'s headers: closure, <c>Stream-Seq</c>, and the idempotent producer's id, epoch and seq (all three or none). The body is added once read.</summary>
    public static bool TryParseAppend(HttpRequest request, string path, string? owner, out DurableAppendRequest append, out string? error)
    {
        var headers = request.Headers;
        var producerId = headers[DurableHeaders.ProducerId];
        var epochText = headers[DurableHeaders.ProducerEpoch];
        var seqText = headers[DurableHeaders.ProducerSeq];
        var present = (producerId.Count > 0 ? 1 : 0) + (epochText.Count > 0 ? 1 : 0) + (seqText.Count > 0 ? 1 : 0);
        long epoch = 0;
        long seq = 0;
        if (present is not 0 and not 3
            || (present == 3 && (producerId.ToString().Length == 0 || !IsProducerNumber(epochText.ToString(), out epoch) || !IsProducerNumber(seqText.ToString(), out seq))))
        {
            append = new DurableAppendRequest(path, owner);
            error = "Producer-Id, Producer-Epoch and Producer-Seq go together; epoch and seq are integers from 0 to 2^53-1.";
            return false;
        }

        var streamSeq = headers[DurableHeaders.Seq].ToString();
        append = new DurableAppendRequest(path, owner)
        {
            ContentType = request.ContentType,
            Close = IsTrue(headers[DurableHeaders.Closed]),
            StreamSeq = streamSeq.Length > 0 ? streamSeq : null,
            ProducerId = present == 3 ? producerId.ToString() : null,
            ProducerEpoch = epoch,
            ProducerSeq = seq,
        };
        error = null;
        return true;
    }

    /// <summary>Reads the whole request body (chunked too), or answers 413 and returns null when it exceeds <paramref name="limit"/>.</summary>
    public static async Task<ReadOnlyMemory<byte>?> ReadBodyAsync(HttpContext context, int limit)
    {
        // An oversize body is still read (and dropped) up to a cap before the 413, so a client that is
        // still uploading gets the answer instead of a connection reset mid-upload.
        var drainCap = Math.Min((long)limit * 4, limit + (64L * 1024 * 1024));
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size && (size.MaxRequestBodySize is null || size.MaxRequestBodySize < drainCap))
        {
            size.MaxRequestBodySize = drainCap;
        }

        var reader = context.Request.BodyReader;
        if (context.Request.ContentLength is { } declared && declared > limit)
        {
            if (declared <= drainCap)
            {
                await DrainAsync(reader, drainCap, context.RequestAborted);
            }

            await DurableResponses.FailAsync(context.Response, StatusCodes.Status413PayloadTooLarge, $"The body exceeds {limit} bytes.");
            return null;
        }

        // The body stays in the request pipe until it is complete, then is copied once.
        while (true)
        {
            var read = await reader.ReadAsync(context.RequestAborted);
            var buffer = read.Buffer;
            if (buffer.Length > limit)
            {
                var seen = buffer.Length;
                reader.AdvanceTo(buffer.End);
                if (!read.IsCompleted)
                {
                    await DrainAsync(reader, drainCap - seen, context.RequestAborted);
                }

                await DurableResponses.FailAsync(context.Response, StatusCodes.Status413PayloadTooLarge, $"The body exceeds {limit} bytes.");
                return null;
            }

            if (read.IsCompleted)
            {
                byte[] body = buffer.IsEmpty ? [] : System.Buffers.BuffersExtensions.ToArray(buffer);
                reader.AdvanceTo(buffer.End);
                return body;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Reads and drops the rest of a body, at most <paramref name="cap"/> bytes (past it, Kestrel ends the request).</summary>
    private static async Task DrainAsync(System.IO.Pipelines.PipeReader reader, long cap, CancellationToken cancellationToken)
    {
        try
        {
            long total = 0;
            while (total <= cap)
            {
                var read = await reader.ReadAsync(cancellationToken);
                total += read.Buffer.Length;
                reader.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (BadHttpRequestException)
        {
            // Over Kestrel's limit for this request: it closes the connection after the 413.
        }
    }

    /// <summary>The store path of a <c>Stream-Forked-From</c> value: a path relative to the stream root, or an absolute path under <see cref="DurableStreamEndpoints.Prefix"/>.</summary>
    private static string? SourcePath(string value)
    {
        if (Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
        {
            value = uri.AbsolutePath;
        }

        if (value.StartsWith(DurableStreamEndpoints.Prefix + "/", StringComparison.Ordinal))
        {
            value = value[(DurableStreamEndpoints.Prefix.Length + 1)..];
        }

        return Uri.UnescapeDataString(value.TrimStart('/'));
    }

    private static bool IsTrue(StringValues value)
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
}
