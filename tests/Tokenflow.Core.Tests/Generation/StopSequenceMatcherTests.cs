using System.Runtime.InteropServices;
using System.Text;
using System.Text.Unicode;
using Tokenflow.Core.Generation;

namespace Tokenflow.Core.Tests.Generation;

public sealed class StopSequenceMatcherTests
{
    /// <summary>
    /// Stop sets and texts to insert them into: single stops, overlapping prefixes ("ab"/"abc"), a
    /// stop that is a suffix of another ("abc"/"bc") or inside another ("abcd"/"bc"), self-overlapping
    /// stops, multi-byte stops, and texts full of near misses.
    /// </summary>
    public static readonly TheoryData<string[], string> StopsAndTexts = new()
    {
        { ["END"], "the quick brown fox" },
        { ["ab", "abc"], "xaxbxa b" },
        { ["abc", "bc"], "bxcab c" },
        { ["abcd", "bc"], "abcabxab" },
        { ["aaa"], "aabaa" },
        { ["abab"], "aba ab" },
        { ["日本"], "日曜日 本当 日" },
        { ["🙂!", "🚀"], "ok 🙂 yes!" },
        { ["é", "\n\n"], "cafe\nnaive\n" },
        { ["Привет мир", "мир"], "При вет ми р" },
        { ["ab", "abc"], "" },
    };

    /// <summary>Texts that never contain their stops, many ending in a prefix of one.</summary>
    public static readonly TheoryData<string[], string> StopsAndTextsWithoutMatch = new()
    {
        { ["abc"], "xxab" },
        { ["abc", "abd"], "aba bab ab" },
        { ["ENDING"], "THE ENDIN" },
        { ["日本"], "今日は日" },
        { ["🙂!"], "ok 🙂 ok 🙂" },
        { ["aaa"], "aa baa" },
        { ["\n\nUser:"], "answer\n\nUser" },
        { ["мир"], "ми р ми" },
    };

    [Theory]
    [MemberData(nameof(StopsAndTexts))]
    public void A_stop_at_every_position_cut_every_way_releases_exactly_the_text_before_it(string[] stops, string text)
    {
        foreach (var stop in stops.Distinct())
        {
            foreach (var position in CharacterPositions(text))
            {
                var full = string.Concat(text.AsSpan(0, position), stop, text.AsSpan(position));
                var (expected, matchEnd) = Reference(full, stops);
                Assert.True(matchEnd > 0, $"the reference finds no stop in \"{full}\"");
                foreach (var pieces in EveryCut(full))
                {
                    Run(stops, pieces, expected, matchEnd);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(StopsAndTextsWithoutMatch))]
    public void Without_a_match_everything_is_released_after_flush_for_every_cut(string[] stops, string text)
    {
        var (expected, matchEnd) = Reference(text, stops);
        Assert.Equal(-1, matchEnd);
        foreach (var pieces in EveryCut(text))
        {
            Run(stops, pieces, expected, matchEnd);
        }
    }

    [Fact]
    public void A_stop_spanning_three_pieces_is_held_back_then_never_released()
    {
        var matcher = new StopSequenceMatcher(["END"]);

        Assert.False(matcher.Push("Hello, E"u8, out var release));
        Assert.Equal("Hello, ", Encoding.UTF8.GetString(release));
        Assert.Equal(1, matcher.HeldBytes);

        Assert.False(matcher.Push("N"u8, out release));
        Assert.True(release.IsEmpty);
        Assert.Equal(2, matcher.HeldBytes);

        Assert.True(matcher.Push("D of it"u8, out release));
        Assert.True(release.IsEmpty);
        Assert.Equal(0, matcher.HeldBytes);
    }

    [Fact]
    public void A_held_back_near_miss_is_released_once_it_can_no_longer_match()
    {
        var matcher = new StopSequenceMatcher(["日本"]);

        Assert.False(matcher.Push("今日"u8, out var release));
        Assert.Equal("今", Encoding.UTF8.GetString(release));
        Assert.Equal(3, matcher.HeldBytes);

        Assert.False(matcher.Push("は"u8, out release));
        Assert.Equal("日は", Encoding.UTF8.GetString(release));
        Assert.Equal(0, matcher.HeldBytes);
    }

    [Fact]
    public void The_stop_that_completes_first_wins_whatever_the_cuts_when_one_stop_lies_inside_another()
    {
        // "bc" completes (after "xabc") before "abcd" does, so a model streaming one character at
        // a time stops there; the output must not depend on how the tokens happened to be cut.
        string[] stops = ["abcd", "bc"];

        var whole = new StopSequenceMatcher(stops);
        Assert.True(whole.Push("xabcd"u8, out var release));
        Assert.Equal("xa", Encoding.UTF8.GetString(release));

        var byCharacter = new StopSequenceMatcher(stops);
        var released = new StringBuilder();
        foreach (var c in "xabcd")
        {
            var stopped = byCharacter.Push(Encoding.UTF8.GetBytes(c.ToString()), out release);
            released.Append(Encoding.UTF8.GetString(release));
            if (stopped)
            {
                break;
            }
        }

        Assert.Equal("xa", released.ToString());
        Assert.Equal("bc", whole.Matched);
        Assert.Equal("bc", byCharacter.Matched);
    }

    [Fact]
    public void Matched_names_the_stop_found_once_one_is_and_nothing_before()
    {
        var matcher = new StopSequenceMatcher(["END", "日本"]);
        Assert.False(matcher.Push("今日"u8, out _));
        Assert.Null(matcher.Matched);
        Assert.True(matcher.Push("本"u8, out _));
        Assert.Equal("日本", matcher.Matched);
    }

    [Fact]
    public void Without_stop_sequences_every_piece_is_released_at_once()
    {
        var matcher = new StopSequenceMatcher(null);
        Assert.False(matcher.IsActive);
        Assert.False(matcher.Push("abc 日本 🙂"u8, out var release));
        Assert.Equal("abc 日本 🙂", Encoding.UTF8.GetString(release));
        Assert.Equal(0, matcher.HeldBytes);
        Assert.True(matcher.Flush().IsEmpty);
    }

    [Fact]
    public void Empty_stop_strings_are_ignored()
    {
        var none = new StopSequenceMatcher(["", ""]);
        Assert.False(none.IsActive);
        Assert.False(none.Push("text"u8, out var release));
        Assert.Equal("text", Encoding.UTF8.GetString(release));

        var some = new StopSequenceMatcher(["", "x"]);
        Assert.True(some.IsActive);
        Assert.True(some.Push("abxc"u8, out release));
        Assert.Equal("ab", Encoding.UTF8.GetString(release));
    }

    /// <summary>Pushes the pieces and checks every guarantee of the matcher along the way.</summary>
    private static void Run(string[] stops, byte[][] pieces, byte[] expected, int matchEnd)
    {
        var stopBytes = stops.Where(s => s.Length > 0).Select(Encoding.UTF8.GetBytes).ToArray();
        var maxHeld = stopBytes.Max(s => s.Length) - 1;
        var matcher = new StopSequenceMatcher(stops);
        var consumed = new List<byte>();
        var released = new List<byte>();
        var stopped = false;
        foreach (var piece in pieces)
        {
            var before = consumed.Count;
            consumed.AddRange(piece);
            stopped = matcher.Push(piece, out var release);
            Assert.True(Utf8.IsValid(release), $"{Splits.Describe(pieces)}: released {Splits.Describe(release)}, not whole characters");
            released.AddRange(release.ToArray());
            if (stopped)
            {
                Assert.True(matchEnd > before && matchEnd <= consumed.Count, $"{Splits.Describe(pieces)}: matched in the piece ending at byte {consumed.Count}, but the first stop ends at byte {matchEnd}");
                break;
            }

            Assert.True(matchEnd < 0 || consumed.Count < matchEnd, $"{Splits.Describe(pieces)}: no match reported although a stop ends at byte {matchEnd}");

            // Holds back exactly the ambiguous tail: no more (latency), no less (correctness).
            Assert.Equal(AmbiguousTailLength(CollectionsMarshal.AsSpan(consumed), stopBytes), matcher.HeldBytes);
            Assert.InRange(matcher.HeldBytes, 0, maxHeld);
        }

        if (!stopped)
        {
            released.AddRange(matcher.Flush().ToArray());
            Assert.Equal(0, matcher.HeldBytes);
        }

        Assert.Equal(matchEnd >= 0, stopped);
        Assert.True(
            expected.AsSpan().SequenceEqual(CollectionsMarshal.AsSpan(released)),
            $"{Splits.Describe(pieces)} with stops [{string.Join(", ", stops)}] released {Splits.Describe(CollectionsMarshal.AsSpan(released))}, expected {Splits.Describe(expected)}");
        foreach (var stop in stopBytes)
        {
            Assert.True(CollectionsMarshal.AsSpan(released).IndexOf(stop) < 0, $"stop {Splits.Describe(stop)} was released");
        }
    }

    /// <summary>
    /// What a streaming matcher must release: the text before the occurrence that completes first
    /// (earliest end; of those, the earliest start, i.e. the longest stop), and the byte where it
    /// completes (-1 without a match). Only this definition is independent of how text is cut.
    /// </summary>
    private static (byte[] Expected, int MatchEnd) Reference(string text, string[] stops)
    {
        var bestStart = -1;
        var bestEnd = int.MaxValue;
        foreach (var stop in stops.Where(s => s.Length > 0))
        {
            var start = text.IndexOf(stop, StringComparison.Ordinal);
            if (start < 0)
            {
                continue;
            }

            var end = start + stop.Length;
            if (end < bestEnd || (end == bestEnd && start < bestStart))
            {
                (bestStart, bestEnd) = (start, end);
            }
        }

        return bestStart < 0
            ? (Encoding.UTF8.GetBytes(text), -1)
            : (Encoding.UTF8.GetBytes(text[..bestStart]), Encoding.UTF8.GetByteCount(text.AsSpan(0, bestEnd)));
    }

    /// <summary>The longest suffix of <paramref name="text"/> that is a proper prefix of some stop.</summary>
    private static int AmbiguousTailLength(ReadOnlySpan<byte> text, byte[][] stops)
    {
        var best = 0;
        foreach (var stop in stops)
        {
            for (var k = Math.Min(stop.Length - 1, text.Length); k > best; k--)
            {
                if (text[^k..].SequenceEqual(stop.AsSpan(0, k)))
                {
                    best = k;
                    break;
                }
            }
        }

        return best;
    }

    /// <summary>UTF-16 indices of every character boundary of <paramref name="text"/> (never inside a surrogate pair).</summary>
    private static List<int> CharacterPositions(string text)
    {
        var positions = new List<int> { 0 };
        var at = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            at += rune.Utf16SequenceLength;
            positions.Add(at);
        }

        return positions;
    }

    /// <summary>Every cut of the text at character boundaries into 2 and 3 pieces, one character per piece, and every composition of short texts.</summary>
    private static IEnumerable<byte[][]> EveryCut(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var offsets = Splits.RuneOffsets(text);
        var cuts = Splits.IntoTwo(offsets).Concat(Splits.IntoThree(offsets)).Append(Splits.Finest(offsets));
        if (offsets.Length <= 13)
        {
            cuts = cuts.Concat(Splits.EveryWay(offsets));
        }

        return cuts.Select(c => Splits.Cut(bytes, c));
    }
}
