using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Tokenflow.Core.Streams;

namespace Tokenflow.Redis;

/// <summary>
/// Binary form of a batch of events, the payload of one Redis stream entry. One entry per batch
/// (not per event) keeps Redis' per-entry cost off the per-token path of a fast model; a slow model
/// sends one event per batch. Layout per event: kind, finish reason (one byte each), then a delta's
/// channel (one byte; a tool call's fragment adds its index as uint16 and a header flag, then on
/// its first fragment the call id and name as strings), 7-bit-encoded length and UTF-8 text; usage
/// and done: prompt and completion tokens (int32), the two timings (float64) and the stop sequence that
/// ended the generation (string); error: the token
/// counts, then message, type and code as strings, the HTTP status (int32) and retry-after in
/// milliseconds (int64, -1 = none); watch: watch id, seq (int64), match JSON. Strings are
/// length-prefixed UTF-8 (length + 1, 0 = null). Little-endian throughout.
/// </summary>
internal static class EventBatchCodec
{
    /// <summary>The entry's single field name.</summary>
    public const string Field = "b";

    public static void Write(ArrayBufferWriter<byte> output, in StreamEvent item)
    {
        var head = output.GetSpan(2);
        head[0] = (byte)item.Kind;
        head[1] = (byte)item.FinishReason;
        output.Advance(2);
        if (item.Kind == StreamEventKind.Delta)
        {
            var channel = output.GetSpan(1);
            channel[0] = (byte)item.Channel;
            output.Advance(1);
            if (item.Channel == DeltaChannel.ToolCall)
            {
                var tool = output.GetSpan(3);
                BinaryPrimitives.WriteUInt16LittleEndian(tool, (ushort)item.ToolCallIndex);
                tool[2] = item.ToolCallId is null ? (byte)0 : (byte)1;
                output.Advance(3);
                if (item.ToolCallId is not null)
                {
                    WriteString(output, item.ToolCallId);
                    WriteString(output, item.ToolName);
                }
            }

            WriteLength(output, item.Text.Length);
            output.Write(item.Text.Span);
            return;
        }

        if (item.Kind == StreamEventKind.Watch)
        {
            var watch = item.Watch!;
            WriteString(output, watch.WatchId);
            BinaryPrimitives.WriteInt64LittleEndian(output.GetSpan(8), watch.Seq);
            output.Advance(8);
            WriteString(output, watch.MatchJson);
            return;
        }

        var span = output.GetSpan(8);
        BinaryPrimitives.WriteInt32LittleEndian(span, item.Usage.PromptTokens);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], item.Usage.CompletionTokens);
        output.Advance(8);
        if (item.Kind == StreamEventKind.Error)
        {
            var error = item.Error ?? new StreamError("The generation failed.", "server_error", null);
            WriteString(output, error.Message);
            WriteString(output, error.Type);
            WriteString(output, error.Code);
            var extra = output.GetSpan(12);
            BinaryPrimitives.WriteInt32LittleEndian(extra, error.Status);
            BinaryPrimitives.WriteInt64LittleEndian(extra[4..], error.RetryAfter is { } wait ? (long)wait.TotalMilliseconds : -1);
            output.Advance(12);
            return;
        }

        span = output.GetSpan(16);
        BinaryPrimitives.WriteDoubleLittleEndian(span, item.Timings.TimeToFirstTokenMs);
        BinaryPrimitives.WriteDoubleLittleEndian(span[8..], item.Timings.TimePerOutputTokenMs);
        output.Advance(16);
        WriteString(output, item.StopSequence);
    }

    /// <summary>
    /// Decodes every event of <paramref name="blob"/>, an entry whose last event has seq
    /// <paramref name="lastSeq"/>, into <paramref name="events"/>; deltas point into <paramref name="blob"/>.
    /// </summary>
    public static void Read(byte[] blob, long lastSeq, List<StreamEvent> events)
    {
        var seq = lastSeq - Count(blob) + 1;
        var position = 0;
        while (position < blob.Length)
        {
            var kind = (StreamEventKind)blob[position];
            var finish = (FinishReason)blob[position + 1];
            position += 2;
            if (kind == StreamEventKind.Delta)
            {
                var channel = (DeltaChannel)blob[position++];
                int index = 0;
                string? id = null, name = null;
                if (channel == DeltaChannel.ToolCall)
                {
                    index = BinaryPrimitives.ReadUInt16LittleEndian(blob.AsSpan(position));
                    var header = blob[position + 2] != 0;
                    position += 3;
                    if (header)
                    {
                        id = ReadString(blob, ref position) ?? string.Empty;
                        name = ReadString(blob, ref position);
                    }
                }

                var length = ReadLength(blob, ref position);
                var text = new ReadOnlyMemory<byte>(blob, position, length);
                events.Add(channel == DeltaChannel.Content && finish == FinishReason.None
                    ? new StreamEvent(seq++, kind, text, finish, default, default, null)
                    : StreamEvent.Delta(seq++, text, channel, index, id, name));
                position += length;
                continue;
            }

            if (kind == StreamEventKind.Watch)
            {
                var watchId = ReadString(blob, ref position) ?? string.Empty;
                var matchSeq = BinaryPrimitives.ReadInt64LittleEndian(blob.AsSpan(position));
                position += 8;
                events.Add(StreamEvent.WatchFired(seq++, new WatchMatch(watchId, matchSeq, ReadString(blob, ref position) ?? "null")));
                continue;
            }

            var usage = new Usage(BinaryPrimitives.ReadInt32LittleEndian(blob.AsSpan(position)), BinaryPrimitives.ReadInt32LittleEndian(blob.AsSpan(position + 4)));
            position += 8;
            if (kind == StreamEventKind.Error)
            {
                var message = ReadString(blob, ref position) ?? string.Empty;
                var type = ReadString(blob, ref position) ?? "server_error";
                var code = ReadString(blob, ref position);
                var status = BinaryPrimitives.ReadInt32LittleEndian(blob.AsSpan(position));
                var retryAfter = BinaryPrimitives.ReadInt64LittleEndian(blob.AsSpan(position + 4));
                position += 12;
                var error = new StreamError(message, type, code) { Status = status, RetryAfter = retryAfter < 0 ? null : TimeSpan.FromMilliseconds(retryAfter) };
                events.Add(new StreamEvent(seq++, kind, default, finish, usage, default, error));
            }
            else
            {
                var timings = new Timings(BinaryPrimitives.ReadDoubleLittleEndian(blob.AsSpan(position)), BinaryPrimitives.ReadDoubleLittleEndian(blob.AsSpan(position + 8)));
                position += 16;
                var stopSequence = ReadString(blob, ref position);
                events.Add(new StreamEvent(seq++, kind, default, finish, usage, timings, null, stopSequence));
            }
        }
    }

    /// <summary>A batch holding only one error event.</summary>
    public static byte[] EncodeError(StreamError error, Usage usage)
    {
        var output = new ArrayBufferWriter<byte>(128);
        Write(output, StreamEvent.Failure(0, error, usage));
        return output.WrittenSpan.ToArray();
    }

    /// <summary>How many events <paramref name="blob"/> holds (a scan of the lengths, no decoding).</summary>
    private static int Count(byte[] blob)
    {
        var count = 0;
        var position = 0;
        while (position < blob.Length)
        {
            var kind = (StreamEventKind)blob[position];
            position += 2;
            count++;
            switch (kind)
            {
                case StreamEventKind.Delta:
                    if ((DeltaChannel)blob[position++] == DeltaChannel.ToolCall)
                    {
                        var header = blob[position + 2] != 0;
                        position += 3;
                        if (header)
                        {
                            SkipString(blob, ref position);
                            SkipString(blob, ref position);
                        }
                    }

                    var length = ReadLength(blob, ref position);
                    position += length;
                    break;
                case StreamEventKind.Watch:
                    SkipString(blob, ref position);
                    position += 8;
                    SkipString(blob, ref position);
                    break;
                case StreamEventKind.Error:
                    position += 8;
                    SkipString(blob, ref position);
                    SkipString(blob, ref position);
                    SkipString(blob, ref position);
                    position += 12;
                    break;
                default:
                    position += 24;
                    SkipString(blob, ref position);
                    break;
            }
        }

        return count;
    }

    private static void SkipString(byte[] blob, ref int position)
    {
        var length = ReadLength(blob, ref position);
        position += Math.Max(0, length - 1);
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
