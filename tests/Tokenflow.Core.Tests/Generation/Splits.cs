using System.Text;

namespace Tokenflow.Core.Tests.Generation;

/// <summary>Ways of cutting a byte string into pieces, for property-style tests of streaming code.</summary>
internal static class Splits
{
    /// <summary>Every byte offset 0..length: cut points that may fall inside a character.</summary>
    public static int[] ByteOffsets(int length) => [.. Enumerable.Range(0, length + 1)];

    /// <summary>Byte offsets of every character (rune) start in <paramref name="text"/>, plus its end.</summary>
    public static int[] RuneOffsets(string text)
    {
        var offsets = new List<int> { 0 };
        var at = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            at += rune.Utf8SequenceLength;
            offsets.Add(at);
        }

        return [.. offsets];
    }

    /// <summary>Every cut into two pieces (either may be empty) at the given offsets.</summary>
    public static IEnumerable<int[]> IntoTwo(int[] offsets) => offsets.Select(o => new[] { o });

    /// <summary>Every cut into three pieces (any may be empty) at the given offsets.</summary>
    public static IEnumerable<int[]> IntoThree(int[] offsets)
    {
        for (var i = 0; i < offsets.Length; i++)
        {
            for (var j = i; j < offsets.Length; j++)
            {
                yield return [offsets[i], offsets[j]];
            }
        }
    }

    /// <summary>Every composition: each subset of the interior offsets as cut points (2^(n-2) ways).</summary>
    public static IEnumerable<int[]> EveryWay(int[] offsets)
    {
        var interior = offsets.Where(o => o != offsets[0] && o != offsets[^1]).Distinct().ToArray();
        if (interior.Length > 16)
        {
            throw new ArgumentException("Too many cut points to enumerate every composition.", nameof(offsets));
        }

        for (var mask = 0; mask < 1 << interior.Length; mask++)
        {
            yield return [.. interior.Where((_, i) => (mask & (1 << i)) != 0)];
        }
    }

    /// <summary>One piece per offset step: the finest cut.</summary>
    public static int[] Finest(int[] offsets) => offsets.Length <= 2 ? [] : offsets[1..^1];

    /// <summary>The pieces of <paramref name="bytes"/> between sorted <paramref name="cuts"/>.</summary>
    public static byte[][] Cut(byte[] bytes, int[] cuts)
    {
        var pieces = new byte[cuts.Length + 1][];
        var start = 0;
        for (var i = 0; i < cuts.Length; i++)
        {
            pieces[i] = bytes[start..cuts[i]];
            start = cuts[i];
        }

        pieces[^1] = bytes[start..];
        return pieces;
    }

    /// <summary>A readable description of a cut for assertion messages.</summary>
    public static string Describe(byte[][] pieces)
        => string.Join(" | ", pieces.Select(p => Convert.ToHexString(p)));

    /// <summary>A readable description of text for assertion messages.</summary>
    public static string Describe(ReadOnlySpan<byte> utf8) => $"\"{Encoding.UTF8.GetString(utf8)}\" ({Convert.ToHexString(utf8)})";
}
