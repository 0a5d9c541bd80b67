using System.Text;
using Tokenflow.Upstreams.Protocols;

namespace Tokenflow.Upstreams.Tests;

public sealed class FramingTests
{
    [Fact]
    public async Task Ndjson_lines_are_the_same_for_every_read_size_including_a_long_line_and_a_last_line_without_newline()
    {
        var longLine = new string('x', 40_000);
        string[] lines = ["{\"a\":1}", "", "{\"b\":\"é日\"}\r", longLine, "{\"last\":true}"];
        var body = Encoding.UTF8.GetBytes(string.Join('\n', lines));
        foreach (var readSize in new[] { 1, 2, 3, 7, 64, 4096, 16 * 1024, body.Length })
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var seen = new List<string>();
            await foreach (var line in NdjsonReader.EnumerateAsync(new TrickleStream(body, readSize), static (type, data) => type + ":" + Encoding.UTF8.GetString(data), timeout.Token))
            {
                seen.Add(line);
            }

            Assert.Equal(lines.Select(l => "message:" + l), seen);
        }
    }

    [Fact]
    public async Task Json_request_body_grows_past_its_first_buffer_and_reports_its_length()
    {
        var text = string.Concat(Enumerable.Repeat("Zürich ", 1000));
        using var content = JsonRequestContent.Create(text, static (w, text) =>
        {
            w.WriteStartObject();
            w.WriteString("text"u8, text);
            w.WriteEndObject();
        });

        var bytes = await content.ReadAsByteArrayAsync();
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(new { text }), Encoding.UTF8.GetString(bytes));
        Assert.Equal(bytes.Length, content.Headers.ContentLength);
        Assert.Equal("application/json", content.Headers.ContentType?.MediaType);
    }

    /// <summary>Returns at most <c>readSize</c> bytes per read, as a network stream may.</summary>
    private sealed class TrickleStream(byte[] body, int readSize) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => body.Length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(Math.Min(count, readSize), body.Length - _position);
            body.AsSpan(_position, n).CopyTo(buffer.AsSpan(offset));
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
