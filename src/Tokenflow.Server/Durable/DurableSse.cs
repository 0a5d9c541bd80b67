using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;

namespace Tokenflow.Server.Durable;

/// <summary>Writes Durable Streams SSE frames (§5.8): <c>event: data</c> and <c>event: control</c>, straight into the response pipe.</summary>
internal static class DurableSse
{
    private static readonly StandardFormat Offset = new('D', 16);

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

    /// <summary>
    /// Writes a <c>control</c> event. The cursor is left out once the stream is closed. Formatted by hand into the
    /// pipe (the JSON holds only digits, <c>_</c> and literals), so a live reader's control events allocate nothing.
    /// </summary>
    public static void WriteControl(PipeWriter writer, long next, long cursor, bool upToDate, bool closed)
    {
        var span = writer.GetSpan(192);
        var at = Append(span, "event: control\ndata:{\"streamNextOffset\":\"0000000000000000_"u8, 0);
        at += Format(next, span[at..], Offset);
        if (!closed)
        {
            at = Append(span, "\",\"streamCursor\":\""u8, at);
            at += Format(cursor, span[at..], default);
        }

        at = Append(span, "\""u8, at);
        if (upToDate || closed)
        {
            at = Append(span, ",\"upToDate\":true"u8, at);
        }

        if (closed)
        {
            at = Append(span, ",\"streamClosed\":true"u8, at);
        }

        at = Append(span, "}\n\n"u8, at);
        writer.Advance(at);
    }

    private static int Append(Span<byte> span, ReadOnlySpan<byte> text, int at)
    {
        text.CopyTo(span[at..]);
        return at + text.Length;
    }

    private static int Format(long value, Span<byte> span, StandardFormat format)
    {
        Utf8Formatter.TryFormat(value, span, out var written, format);
        return written;
    }
}
