using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Text.Json;
using Tokenflow.Core.Durable;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Durable;

/// <summary>Writes Durable Streams SSE frames (§5.8): <c>event: data</c> and <c>event: control</c>, straight into the response pipe.</summary>
internal static class DurableSse
{
    /// <summary>Writes one <c>data</c> event; each line of <paramref name="payload"/> becomes a <c>data:</c> line.</summary>
    public static void WriteData(PipeWriter writer, ReadOnlySpan<byte> payload)
    {
        writer.Write("event: data\n"u8);
        while (true)
        {
            var newline = payload.IndexOfAny((byte)'\n', (byte)'\r');
            var line = newline < 0 ? payload : payload[..newline];
            // "data:" without the optional space (as the reference server frames it); a line that starts with a
            // space gets one extra, because SSE parsers strip exactly one.
            writer.Write(line.Length > 0 && line[0] == ' ' ? "data: "u8 : "data:"u8);
            writer.Write(line);
            writer.Write("\n"u8);
            if (newline < 0)
            {
                break;
            }

            var skip = payload[newline] == '\r' && newline + 1 < payload.Length && payload[newline + 1] == '\n' ? 2 : 1;
            payload = payload[(newline + skip)..];
        }

        writer.Write("\n"u8);
    }

    /// <summary>Writes base64 of <paramref name="bytes"/> as one <c>data</c> event (binary streams).</summary>
    public static void WriteBase64Data(PipeWriter writer, ReadOnlySpan<byte> bytes)
    {
        var encoded = ArrayPool<byte>.Shared.Rent(Base64.GetMaxEncodedToUtf8Length(bytes.Length));
        try
        {
            Base64.EncodeToUtf8(bytes, encoded, out _, out var written);
            WriteData(writer, encoded.AsSpan(0, written));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(encoded);
        }
    }

    /// <summary>Writes a <c>control</c> event. The cursor is left out once the stream is closed.</summary>
    public static void WriteControl(PipeWriter writer, long next, string cursor, bool upToDate, bool closed)
    {
        writer.Write("event: control\ndata:"u8);
        using (var json = new Utf8JsonWriter(writer, JsonWriting.Options))
        {
            json.WriteStartObject();
            json.WriteString("streamNextOffset"u8, DurableOffset.Format(next));
            if (!closed)
            {
                json.WriteString("streamCursor"u8, cursor);
            }

            if (upToDate || closed)
            {
                json.WriteBoolean("upToDate"u8, true);
            }

            if (closed)
            {
                json.WriteBoolean("streamClosed"u8, true);
            }

            json.WriteEndObject();
        }

        writer.Write("\n\n"u8);
    }
}
