namespace Tokenflow.Server.Durable;

/// <summary>Header names of the Durable Streams protocol.</summary>
internal static class DurableHeaders
{
    public const string NextOffset = "Stream-Next-Offset";
    public const string UpToDate = "Stream-Up-To-Date";
    public const string Closed = "Stream-Closed";
    public const string Cursor = "Stream-Cursor";
    public const string Seq = "Stream-Seq";
    public const string Ttl = "Stream-TTL";
    public const string ExpiresAt = "Stream-Expires-At";
    public const string ForkedFrom = "Stream-Forked-From";
    public const string ForkOffset = "Stream-Fork-Offset";
    public const string ForkSubOffset = "Stream-Fork-Sub-Offset";
    public const string ProducerId = "Producer-Id";
    public const string ProducerEpoch = "Producer-Epoch";
    public const string ProducerSeq = "Producer-Seq";
    public const string ProducerExpectedSeq = "Producer-Expected-Seq";
    public const string ProducerReceivedSeq = "Producer-Received-Seq";
    public const string SseDataEncoding = "Stream-Sse-Data-Encoding";

    /// <summary>Response headers a browser client may read (CORS).</summary>
    public const string Exposed = "Stream-Next-Offset, Stream-Up-To-Date, Stream-Closed, Stream-Cursor, Stream-TTL, Stream-Expires-At, ETag, Location, Content-Type, Producer-Epoch, Producer-Seq, Producer-Expected-Seq, Producer-Received-Seq, Stream-Sse-Data-Encoding";

    /// <summary>Request headers a browser client may send (CORS preflight).</summary>
    public const string Allowed = "Content-Type, Authorization, If-None-Match, Stream-Seq, Stream-TTL, Stream-Expires-At, Stream-Closed, Stream-Forked-From, Stream-Fork-Offset, Stream-Fork-Sub-Offset, Producer-Id, Producer-Epoch, Producer-Seq";
}
