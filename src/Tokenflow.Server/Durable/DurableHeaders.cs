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
    public static readonly string[] Exposed =
    [
        NextOffset, UpToDate, Closed, Cursor, Ttl, ExpiresAt, "ETag", "Location", "Content-Type",
        ProducerEpoch, ProducerSeq, ProducerExpectedSeq, ProducerReceivedSeq, SseDataEncoding,
    ];

    /// <summary>Request headers a browser client may send (CORS preflight).</summary>
    public static readonly string[] Allowed =
    [
        "Content-Type", "Authorization", "If-None-Match", Seq, Ttl, ExpiresAt, Closed, ForkedFrom, ForkOffset, ForkSubOffset,
        ProducerId, ProducerEpoch, ProducerSeq,
    ];
}
