using System.Buffers;
using System.Text;

namespace Tokenflow.Core.Generation;

/// <summary>
/// Turns token pieces, whose bytes may split a character, into text that is always whole UTF-8
/// characters: an incomplete sequence at the end of a piece is held (at most 3 bytes) until the
/// next piece completes it. Invalid bytes become U+FFFD. Not thread-safe; one per generation.
/// </summary>
public sealed class Utf8PieceDecoder
{
    private readonly byte[] _pending = new byte[4];
    private int _pendingLength;
    private byte[] _buffer = new byte[256];

    /// <summary>Number of bytes held back waiting for the rest of a character.</summary>
    public int PendingBytes => _pendingLength;

    /// <summary>
    /// Adds a piece and returns the whole characters now available (possibly empty). The returned
    /// span is valid until the next call.
    /// </summary>
    public ReadOnlySpan<byte> Decode(ReadOnlySpan<byte> piece)
    {
        ReadOnlySpan<byte> input;
        if (_pendingLength == 0)
        {
            input = piece;
        }
        else
        {
            EnsureBuffer(_pendingLength + piece.Length);
            _pending.AsSpan(0, _pendingLength).CopyTo(_buffer);
            piece.CopyTo(_buffer.AsSpan(_pendingLength));
            input = _buffer.AsSpan(0, _pendingLength + piece.Length);
            _pendingLength = 0;
        }

        var complete = input.Length - IncompleteTailLength(input);
        input[complete..].CopyTo(_pending);
        _pendingLength = input.Length - complete;
        return Sanitize(input[..complete]);
    }

    /// <summary>Ends the input: a held incomplete sequence becomes U+FFFD. Returns the final text.</summary>
    public ReadOnlySpan<byte> Flush()
    {
        if (_pendingLength == 0)
        {
            return [];
        }

        _pendingLength = 0;
        return "\uFFFD"u8;
    }

    /// <summary>
    /// Ends the input by dropping a held incomplete character: for output cut short (max tokens,
    /// cancel), where the rest of the character was never generated.
    /// </summary>
    public void Discard() => _pendingLength = 0;

    /// <summary>Bytes at the end of <paramref name="input"/> that begin a character the input does not finish.</summary>
    internal static int IncompleteTailLength(ReadOnlySpan<byte> input)
    {
        // Walk back over at most 3 continuation bytes to the lead byte of the last character.
        var limit = Math.Min(4, input.Length);
        for (var back = 1; back <= limit; back++)
        {
            var b = input[^back];
            if ((b & 0xC0) == 0x80)
            {
                continue;
            }

            var needed = b switch
            {
                < 0x80 => 1,
                >= 0xC2 and < 0xE0 => 2,
                >= 0xE0 and < 0xF0 => 3,
                >= 0xF0 and < 0xF5 => 4,
                _ => 1, // invalid lead byte: not a partial character, let sanitizing replace it
            };
            return needed > back ? back : 0;
        }

        return 0;
    }

    private ReadOnlySpan<byte> Sanitize(ReadOnlySpan<byte> text)
    {
        if (System.Text.Unicode.Utf8.IsValid(text))
        {
            return text;
        }

        // Rare path (a model emitted invalid bytes): replace each bad sequence with U+FFFD.
        var rented = ArrayPool<char>.Shared.Rent(text.Length);
        try
        {
            var chars = Encoding.UTF8.GetChars(text, rented);
            var byteCount = Encoding.UTF8.GetByteCount(rented.AsSpan(0, chars));
            var output = new byte[byteCount];
            Encoding.UTF8.GetBytes(rented.AsSpan(0, chars), output);
            return output;
        }
        finally
        {
            ArrayPool<char>.Shared.Return(rented);
        }
    }

    private void EnsureBuffer(int length)
    {
        if (_buffer.Length < length)
        {
            _buffer = new byte[Math.Max(length, _buffer.Length * 2)];
        }
    }
}
