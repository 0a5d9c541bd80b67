using System.Security.Cryptography;

namespace Tokenflow.Core.Streams;

/// <summary>Unguessable stream ids: a prefix plus 128 random bits in base62.</summary>
public static class StreamIds
{
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    /// <summary>Length of the random part: 62^22 &gt; 2^128.</summary>
    public const int RandomLength = 22;

    /// <summary>A new id such as <c>chatcmpl-</c> followed by 22 base62 characters.</summary>
    public static string New(string prefix)
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        var value = System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(bytes);
        return string.Create(prefix.Length + RandomLength, (prefix, value), static (span, state) =>
        {
            state.prefix.AsSpan().CopyTo(span);
            var v = state.value;
            for (var i = span.Length - 1; i >= state.prefix.Length; i--)
            {
                (v, var r) = UInt128.DivRem(v, 62);
                span[i] = Alphabet[(int)r];
            }
        });
    }

    /// <summary>True when <paramref name="id"/> has a plausible shape (bounded length, safe characters) — a cheap filter before a lookup.</summary>
    public static bool IsWellFormed(ReadOnlySpan<char> id)
    {
        if (id.Length is 0 or > 128)
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_'))
            {
                return false;
            }
        }

        return true;
    }
}
