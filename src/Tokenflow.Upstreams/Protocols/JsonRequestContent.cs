using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Tokenflow.Upstreams.Protocols;

/// <summary>
/// A JSON request body written once with <see cref="Utf8JsonWriter"/> into a pooled buffer, which goes back to the
/// pool when the request message (and so this content) is disposed: no body array per upstream request.
/// </summary>
internal sealed class JsonRequestContent : HttpContent
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    private byte[] _buffer;
    private int _length;

    private JsonRequestContent(byte[] buffer, int length)
    {
        _buffer = buffer;
        _length = length;
        Headers.ContentType = Json;
    }

    /// <summary>Writes a body with <paramref name="write"/> (given <paramref name="state"/>, so the caller's lambda can be static).</summary>
    public static JsonRequestContent Create<TState>(TState state, Action<Utf8JsonWriter, TState> write)
    {
        var buffer = new PooledBuffer();
        try
        {
            using (var writer = new Utf8JsonWriter(buffer))
            {
                write(writer, state);
            }

            return new JsonRequestContent(buffer.Array, buffer.Length);
        }
        catch
        {
            buffer.Return();
            throw;
        }
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        => stream.WriteAsync(_buffer, 0, _length);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        => stream.WriteAsync(_buffer.AsMemory(0, _length), cancellationToken).AsTask();

    protected override void SerializeToStream(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        => stream.Write(_buffer, 0, _length);

    protected override bool TryComputeLength(out long length)
    {
        length = _length;
        return true;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && _buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
            _length = 0;
        }

        base.Dispose(disposing);
    }

    /// <summary>An <see cref="IBufferWriter{T}"/> over rented arrays.</summary>
    private sealed class PooledBuffer : IBufferWriter<byte>
    {
        public byte[] Array { get; private set; } = ArrayPool<byte>.Shared.Rent(1024);

        public int Length { get; private set; }

        public void Advance(int count) => Length += count;

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            Ensure(sizeHint);
            return Array.AsMemory(Length);
        }

        public Span<byte> GetSpan(int sizeHint = 0)
        {
            Ensure(sizeHint);
            return Array.AsSpan(Length);
        }

        public void Return() => ArrayPool<byte>.Shared.Return(Array);

        private void Ensure(int sizeHint)
        {
            if (Array.Length - Length >= Math.Max(sizeHint, 1))
            {
                return;
            }

            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(Array.Length * 2, Length + sizeHint));
            Array.AsSpan(0, Length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(Array);
            Array = bigger;
        }
    }
}
