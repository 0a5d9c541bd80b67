using System.IO.Pipelines;
using System.Text;
using Tokenflow.Server.Durable;

namespace Tokenflow.Server.Tests.Durable;

public sealed class DurableSseTests
{
    private static async Task<string> WrittenAsync(Action<PipeWriter> write)
    {
        var pipe = new Pipe();
        write(pipe.Writer);
        await pipe.Writer.CompleteAsync();
        var read = await pipe.Reader.ReadAsync();
        var text = Encoding.UTF8.GetString(read.Buffer);
        pipe.Reader.AdvanceTo(read.Buffer.End);
        return text;
    }

    [Theory]
    [InlineData(5L, 123L, true, false, "{\"streamNextOffset\":\"0000000000000000_0000000000000005\",\"streamCursor\":\"123\",\"upToDate\":true}")]
    [InlineData(0L, 9L, false, false, "{\"streamNextOffset\":\"0000000000000000_0000000000000000\",\"streamCursor\":\"9\"}")]
    [InlineData(1234567890123L, 9L, false, true, "{\"streamNextOffset\":\"0000000000000000_0001234567890123\",\"upToDate\":true,\"streamClosed\":true}")]
    public async Task A_control_event_carries_the_next_offset_the_cursor_until_closed_and_the_flags(long next, long cursor, bool upToDate, bool closed, string json)
    {
        var text = await WrittenAsync(w => DurableSse.WriteControl(w, next, cursor, upToDate, closed));
        Assert.Equal($"event: control\ndata:{json}\n\n", text);
    }

    [Fact]
    public async Task A_data_event_splits_lines_and_protects_a_leading_space()
    {
        var text = await WrittenAsync(w => DurableSse.WriteData(w, "a\r\n b\nc"u8));
        Assert.Equal("event: data\ndata:a\ndata:  b\ndata:c\n\n", text);
    }
}
