using System.Buffers;

namespace Tokenflow.Server.Responses;

/// <summary>
/// A growing byte buffer rented from <see cref="ArrayPool{T}.Shared"/>: an output item's text, kept for the
/// <c>.done</c> events and the response object the Responses format repeats it in, without a garbage
/// allocation per event once the pool is warm. <see cref="Dispose"/> returns the buffer.
/// </summary>
internal sealed class PooledText : IDisposable
{
    private byte[] _buffer = [];
    private int _length;

    /// <summary>The text written so far.</summary>
    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);

    /// <summary>Appends <paramref name="text"/>.</summary>
    public void Write(ReadOnlySpan<byte> text)
    {
        if (_buffer.Length - _length < text.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(256, Math.Max(_buffer.Length * 2, _length + text.Length)));
            WrittenSpan.CopyTo(larger);
            Release();
            _buffer = larger;
        }

        text.CopyTo(_buffer.AsSpan(_length));
        _length += text.Length;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Release();
        _buffer = [];
        _length = 0;
    }

    private void Release()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }
    }
}
