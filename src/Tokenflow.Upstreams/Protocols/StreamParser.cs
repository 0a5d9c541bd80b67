namespace Tokenflow.Upstreams.Protocols;

/// <summary>
/// The parse state of one upstream response: turns each framed item (an SSE event, an NDJSON line) into the
/// pieces of <see cref="Batch"/> and notes the protocol's end marker. One per response; single-threaded.
/// </summary>
internal abstract class StreamParser : IDisposable
{
    /// <summary>The pieces of the last parsed item, valid until the next one is parsed.</summary>
    public PieceBatch Batch { get; } = new();

    /// <summary>The protocol's end marker came: nothing after it is parsed (the rest of the body is drained).</summary>
    public bool Ended { get; protected set; }

    /// <summary>Whether the response is whole when the body ends here; by default only after the end marker.</summary>
    public virtual bool Complete => Ended;

    /// <summary>
    /// Parses one item's data into <see cref="Batch"/> (cleared first). Matches <c>SseItemParser&lt;bool&gt;</c>, so it
    /// serves as <see cref="System.Net.ServerSentEvents.SseParser"/>'s item parser: items are parsed straight off the
    /// parser's buffer, no string or copy per item. Throws for an error the upstream reports in the stream.
    /// </summary>
    public bool Parse(string eventType, ReadOnlySpan<byte> data)
    {
        Batch.Clear();
        ParseItem(eventType, data);
        return true;
    }

    /// <summary>Parses one item; <paramref name="eventType"/> is the SSE event type (<c>message</c> for NDJSON lines).</summary>
    protected abstract void ParseItem(string eventType, ReadOnlySpan<byte> data);

    public void Dispose() => Batch.Dispose();
}
