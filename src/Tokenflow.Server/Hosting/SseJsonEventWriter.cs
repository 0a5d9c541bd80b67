using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Text.Json;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Hosting;

/// <summary>
/// Writes named SSE events whose data is one JSON object with a <c>type</c> equal to the event name — the framing
/// of the Anthropic Messages and OpenAI Responses streams: <c>[id: N\n]event: name\ndata: {"type":"name",…}\n\n</c>,
/// straight into the response pipe with one reused <see cref="Utf8JsonWriter"/>, so no allocation per event. Not
/// thread-safe; one per response.
/// </summary>
internal sealed class SseJsonEventWriter(PipeWriter output) : IDisposable
{
    private readonly Utf8JsonWriter _json = new(Stream.Null, JsonWriting.Fragment);

    /// <summary>
    /// Starts an event (with an <c>id:</c> line when <paramref name="id"/> is not negative) and returns the JSON
    /// writer inside its object, after <c>type</c>, for the other fields; <see cref="End"/> closes it.
    /// </summary>
    public Utf8JsonWriter Begin(ReadOnlySpan<byte> name, long id)
    {
        if (id >= 0)
        {
            output.Write("id: "u8);
            Utf8Formatter.TryFormat(id, output.GetSpan(20), out var written);
            output.Advance(written);
            output.Write("\n"u8);
        }

        output.Write("event: "u8);
        output.Write(name);
        output.Write("\ndata: "u8);
        _json.Reset(output);
        _json.WriteStartObject();
        _json.WriteString("type"u8, name);
        return _json;
    }

    /// <summary>Ends the event <see cref="Begin"/> started.</summary>
    public void End()
    {
        _json.WriteEndObject();
        _json.Flush();
        output.Write("\n\n"u8);
    }

    /// <inheritdoc />
    public void Dispose() => _json.Dispose();
}
