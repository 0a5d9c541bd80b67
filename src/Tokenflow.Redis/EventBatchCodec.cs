using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Tokenflow.Core.Streams;

namespace Tokenflow.Redis;

/// <summary>
/// Binary form of a batch of events, the payload of one Redis stream entry. One entry per batch
/// (not per event) keeps Redis' per-entry cost off the per-token path of a fast model; a slow model
/// sends one event per batch. Layout per event: kind, finish reason (one byte each), then a delta's
/// 7-bit-encoded length and UTF-8 text; usage and done: prompt and completion tokens (int32) and
/// the two timings (float64); error: the token counts, then message, type and code as
/// length-prefixed UTF-8 (code length + 1, 0 = null). Little-endian throughout.
/// </summary>
internal static class EventBatchCodec
{
    /// <summary>The entry's single field name.</summary>
    public const string Field = "b";

    public static void Write(ArrayBufferWriter<byte> output, in StreamEventRecord record)
    {
        var head = output.GetSpan(2);
        head[0] = (byte)record.Kind;
        head[1] = (byte)record.FinishReason;
        output.Advance(2);
        if (record.Kind == StreamEventKind.Delta)
        {
            var text = ((byte[])record.Payload!).AsSpan(record.Offset, record.Length);
            WriteLength(output, text.Length);
            output.Write(text);
            return;
        }

        var terminal = (TerminalPayload)record.Payload!;
        var span = output.GetSpan(8);
        BinaryPrimitives.WriteInt32LittleEndian(span, terminal.Usage.PromptTokens);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], terminal.Usage.CompletionTokens);
        output.Advance(8);
        if (record.Kind == StreamEventKind.Error)
        {
            var error = terminal.Error ?? new StreamError("The generation failed.", "server_error", null);
            WriteString(output, error.Message);
            WriteString(output, error.Type);
            WriteString(output, error.Code);
            return;
        }

        span = output.GetSpan(16);
        BinaryPrimitives.WriteDoubleLittleEndian(span, terminal.Timings.TimeToFirstTokenMs);
        BinaryPrimitives.WriteDoubleLittleEndian(span[8..], terminal.Timings.TimePerOutputTokenMs);
        output.Advance(16);
    }

    /// <summary>Decodes every event of <paramref name="blob"/> into <paramref name="records"/>; deltas point into <paramref name="blob"/>.</summary>
    public static void Read(byte[] blob, List<StreamEventRecord> records)
    {
        var position = 0;
        while (position < blob.Length)
        {
            var kind = (StreamEventKind)blob[position];
            var finish = (FinishReason)blob[position + 1];
            position += 2;
            if (kind == StreamEventKind.Delta)
            {
                var length = ReadLength(blob, ref position);
                records.Add(new StreamEventRecord(blob, position, length, kind, finish));
                position += length;
                continue;
            }

            var usage = new Usage(BinaryPrimitives.ReadInt32LittleEndian(blob.AsSpan(position)), BinaryPrimitives.ReadInt32LittleEndian(blob.AsSpan(position + 4)));
            position += 8;
            TerminalPayload payload;
            if (kind == StreamEventKind.Error)
            {
                var message = ReadString(blob, ref position) ?? string.Empty;
                var type = ReadString(blob, ref position) ?? "server_error";
                var code = ReadString(blob, ref position);
                payload = new TerminalPayload(usage, default, new StreamError(message, type, code));
            }
            else
            {
                var timings = new Timings(BinaryPrimitives.ReadDoubleLittleEndian(blob.AsSpan(position)), BinaryPrimitives.ReadDoubleLittleEndian(blob.AsSpan(position + 8)));
                position += 16;
                payload = new TerminalPayload(usage, timings, null);
            }

            records.Add(new StreamEventRecord(payload, 0, 0, kind, finish));
        }
    }

    /// <summary>A batch holding only one error event.</summary>
    public static byte[] EncodeError(StreamError error, Usage usage)
    {
        var output = new ArrayBufferWriter<byte>(128);
        Write(output, new StreamEventRecord(new TerminalPayload(usage, default, error), 0, 0, StreamEventKind.Error, FinishReason.Error));
        return output.WrittenSpan.ToArray();
    }

    private static void WriteLength(ArrayBufferWriter<byte> output, int value)
    {
        var span = output.GetSpan(5);
        var i = 0;
        var v = (uint)value;
        while (v >= 0x80)
        {
            span[i++] = (byte)(v | 0x80);
            v >>= 7;
        }

        span[i++] = (byte)v;
        output.Advance(i);
    }

    private static int ReadLength(byte[] blob, ref int position)
    {
        var value = 0;
        var shift = 0;
        byte b;
        do
        {
            b = blob[position++];
            value |= (b & 0x7F) << shift;
            shift += 7;
        }
        while ((b & 0x80) != 0);
        return value;
    }

    private static void WriteString(ArrayBufferWriter<byte> output, string? value)
    {
        if (value is null)
        {
            WriteLength(output, 0);
            return;
        }

        var length = Encoding.UTF8.GetByteCount(value);
        WriteLength(output, length + 1);
        Encoding.UTF8.GetBytes(value, output.GetSpan(length));
        output.Advance(length);
    }

    private static string? ReadString(byte[] blob, ref int position)
    {
        var length = ReadLength(blob, ref position);
        if (length == 0)
        {
            return null;
        }

        var value = Encoding.UTF8.GetString(blob, position, length - 1);
        position += length - 1;
        return value;
    }
}
