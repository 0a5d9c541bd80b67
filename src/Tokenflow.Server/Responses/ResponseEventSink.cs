using System.IO.Pipelines;
using System.Text.Json;
using Tokenflow.Server.Hosting;

namespace Tokenflow.Server.Responses;

/// <summary>
/// Where <see cref="ResponseState"/> writes the Responses events it derives from the log. Every event gets the
/// next <c>sequence_number</c>, emitted or not, so a replay numbers events as the original did. The SSE sink
/// writes <c>id: N\nevent: type\ndata: {"type":…,…,"sequence_number":N}\n\n</c> straight into the response pipe
/// with one reused JSON writer: no allocation per event. One per response; not thread-safe.
/// </summary>
internal sealed class ResponseEventSink : IDisposable
{
    private readonly SseJsonEventWriter? _events;
    private readonly long _startingAfter;
    private Utf8JsonWriter? _open;

    /// <summary>A sink that emits nothing: the state only accumulates (the response object).</summary>
    public ResponseEventSink()
    {
        _startingAfter = long.MaxValue;
    }

    /// <summary>A sink that writes the events numbered above <paramref name="startingAfter"/> to <paramref name="output"/>.</summary>
    public ResponseEventSink(PipeWriter output, long startingAfter)
    {
        _events = new SseJsonEventWriter(output);
        _startingAfter = startingAfter;
    }

    /// <summary>The sequence number of the last event begun (-1 before the first).</summary>
    public long Sequence { get; private set; } = -1;

    /// <summary>
    /// Numbers the next event; returns the JSON writer inside its object (after <c>type</c>) for its other fields,
    /// or null when the event is not emitted. A non-null return must be followed by <see cref="End"/>.
    /// </summary>
    public Utf8JsonWriter? Begin(ReadOnlySpan<byte> type)
        => ++Sequence <= _startingAfter || _events is null ? null : _open = _events.Begin(type, Sequence);

    /// <summary>Ends the event <see cref="Begin"/> started with its <c>sequence_number</c>.</summary>
    public void End()
    {
        _open!.WriteNumber("sequence_number"u8, Sequence);
        _events!.End();
    }

    /// <inheritdoc />
    public void Dispose() => _events?.Dispose();
}
