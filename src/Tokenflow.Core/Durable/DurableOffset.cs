using System.Globalization;

namespace Tokenflow.Core.Durable;

/// <summary>
/// Durable Streams offsets: opaque to clients, here <c>0000000000000000_PPPPPPPPPPPPPPPP</c> where P is the
/// position (bytes for byte streams, messages for JSON streams, seq for generations), zero-padded so offsets
/// sort lexicographically like positions. The sentinels <c>-1</c> (start) and <c>now</c> (tail) are never minted.
/// </summary>
public static class DurableOffset
{
    private const int Digits = 16;

    /// <summary>The offset of <paramref name="position"/>.</summary>
    public static string Format(long position) => string.Create(CultureInfo.InvariantCulture, $"0000000000000000_{position:D16}");

    /// <summary>
    /// Parses an offset query value. Empty and <c>-1</c> give position 0; <c>now</c> gives null (the tail).
    /// Returns false for anything malformed.
    /// </summary>
    public static bool TryParse(string? value, out long? position)
    {
        position = 0;
        if (string.IsNullOrEmpty(value) || value == "-1")
        {
            return true;
        }

        if (value == "now")
        {
            position = null;
            return true;
        }

        if (value.Length != (2 * Digits) + 1 || value[Digits] != '_')
        {
            return false;
        }

        var span = value.AsSpan();
        if (!long.TryParse(span[..Digits], NumberStyles.None, CultureInfo.InvariantCulture, out _)
            || !long.TryParse(span[(Digits + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
        {
            return false;
        }

        position = parsed;
        return true;
    }
}
