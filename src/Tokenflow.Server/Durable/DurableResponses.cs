using System.Globalization;
using Tokenflow.Core.Durable;

namespace Tokenflow.Server.Durable;

/// <summary>What every Durable Streams response shares: status codes of store outcomes, stream-state headers, cursors and error bodies.</summary>
internal static class DurableResponses
{
    // Cursor intervals of §10.1: 20-second buckets counted from 2024-10-09T00:00:00Z.
    private static readonly DateTimeOffset CursorEpoch = new(2024, 10, 9, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Answers with a short text error (the host's JSON status pages are off for this door).</summary>
    public static async Task FailAsync(HttpResponse response, int status, string message)
    {
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        await response.WriteAsync(message, response.HttpContext.RequestAborted);
    }

    /// <summary>The <c>Stream-Cursor</c> for a live response: the current interval, always past the client's cursor (§10.1).</summary>
    public static long Cursor(long? clientCursor, TimeProvider time)
    {
        var interval = (long)((time.GetUtcNow() - CursorEpoch).TotalSeconds / 20);
        return clientCursor is { } client && client >= interval ? client + Random.Shared.Next(1, 181) : interval;
    }

    /// <summary>The tail, closure and content type after a create, append or metadata call.</summary>
    public static void WriteState(HttpResponse response, DurableStreamResult result)
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

    /// <summary>The stream's TTL or absolute expiry (HEAD).</summary>
    public static void WriteExpiry(HttpResponse response, long? ttl, DateTimeOffset? expiresAt)
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

    /// <summary>The next offset, and whether the read is up to date and the stream closed.</summary>
    public static void WriteReadHeaders(HttpResponse response, in DurableReadBatch read)
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

    /// <summary>The HTTP status of a store outcome.</summary>
    public static int StatusOf(DurableOutcome outcome) => outcome switch
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
