using System.Text;
using System.Text.Unicode;
using Tokenflow.Core.Generation;

namespace Tokenflow.Core.Tests.Generation;

public sealed class Utf8PieceDecoderTests
{
    /// <summary>Strings with 1-, 2-, 3- and 4-byte characters, alone and mixed, including the encoding's boundary code points.</summary>
    public static readonly TheoryData<string> Corpus = new()
    {
        "",
        "a",
        "hello, world",
        "é",
        "café crème",
        "naïve façade",
        "日本",
        "日本語のテキスト",
        "🙂",
        "🚀🙂",
        "a🙂é日b",
        "Zürich → 東京 🚀 ok",
        "Привет мир ∑ 한국어",
        "e\u0301\u00e9",
        "\u007F\u0080\u07FF\u0800\uFFFD\uFFFF\U00010000\U0010FFFF",
    };

    /// <summary>Strings that end with a multi-byte character, to cut short.</summary>
    public static readonly TheoryData<string> EndingInMultiByte = new()
    {
        "é",
        "café",
        "日本",
        "ok 🙂",
        "a🙂é日",
        "\u0080",
        "\U0010FFFF",
    };

    /// <summary>Ill-formed UTF-8: each is surrounded by ASCII in the tests.</summary>
    public static readonly TheoryData<string> InvalidHex = new()
    {
        "FF",
        "80",
        "BFBF",
        "C0AF",
        "C1BF",
        "E080AF",
        "EDA080",
        "F08080",
        "F4908080",
        "F5",
        "C3",
        "E697",
        "F09F98",
        "C3C3A9",
        "F09F9880BF",
        "E6E697A5",
        "FEFF",
    };

    [Theory]
    [MemberData(nameof(Corpus))]
    public void Every_split_of_a_utf8_string_into_two_pieces_reassembles_to_the_same_text(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        foreach (var cuts in Splits.IntoTwo(Splits.ByteOffsets(bytes.Length)))
        {
            AssertReassembles(bytes, Splits.Cut(bytes, cuts));
        }
    }

    [Theory]
    [MemberData(nameof(Corpus))]
    public void Every_split_of_a_utf8_string_into_three_pieces_reassembles_to_the_same_text(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        foreach (var cuts in Splits.IntoThree(Splits.ByteOffsets(bytes.Length)))
        {
            AssertReassembles(bytes, Splits.Cut(bytes, cuts));
        }
    }

    [Theory]
    [MemberData(nameof(Corpus))]
    public void Feeding_one_byte_at_a_time_reassembles_the_text_holding_at_most_three_bytes(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        AssertReassembles(bytes, Splits.Cut(bytes, Splits.Finest(Splits.ByteOffsets(bytes.Length))));
    }

    [Theory]
    [MemberData(nameof(Corpus))]
    public void Every_output_chunk_is_whole_characters_for_every_split(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var offsets = Splits.ByteOffsets(bytes.Length);
        var characterStarts = Splits.RuneOffsets(text).ToHashSet();
        foreach (var cuts in Splits.IntoTwo(offsets).Concat(Splits.IntoThree(offsets)))
        {
            var pieces = Splits.Cut(bytes, cuts);
            var (chunks, _) = DecodeAll(pieces);
            var at = 0;
            foreach (var chunk in chunks)
            {
                // Valid on its own means it neither starts nor ends inside a character...
                Assert.True(Utf8.IsValid(chunk), $"chunk {Splits.Describe(chunk)} of {Splits.Describe(pieces)} is not whole characters");

                // ...and, the input being valid, each chunk starts and ends on a character boundary of the original.
                Assert.Contains(at, characterStarts);
                at += chunk.Length;
                Assert.Contains(at, characterStarts);
            }
        }
    }

    [Theory]
    [MemberData(nameof(EndingInMultiByte))]
    public void An_incomplete_character_at_the_end_flushes_as_one_replacement_character(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var last = text.EnumerateRunes().Last();
        var whole = text[..^last.Utf16SequenceLength];
        for (var missing = 1; missing < last.Utf8SequenceLength; missing++)
        {
            var truncated = bytes[..^missing];
            foreach (var cuts in Splits.IntoTwo(Splits.ByteOffsets(truncated.Length)))
            {
                var pieces = Splits.Cut(truncated, cuts);
                var (chunks, flushed) = DecodeAll(pieces);
                Assert.Equal("\uFFFD", Encoding.UTF8.GetString(flushed));
                Assert.Equal(whole, Encoding.UTF8.GetString([.. chunks.SelectMany(c => c)]));
            }
        }
    }

    [Theory]
    [MemberData(nameof(InvalidHex))]
    public void Invalid_bytes_become_replacement_characters_for_every_split_and_never_throw(string hex)
    {
        // Surrounded by ASCII so nothing is pending at the end: then the output must equal the
        // framework decoder's (one U+FFFD per maximal ill-formed subpart), whatever the cuts.
        var bytes = Encoding.ASCII.GetBytes("x").Concat(Convert.FromHexString(hex)).Concat(Encoding.ASCII.GetBytes("y")).ToArray();
        var expected = Encoding.UTF8.GetString(bytes);
        Assert.Contains('\uFFFD', expected);
        var offsets = Splits.ByteOffsets(bytes.Length);
        foreach (var cuts in Splits.IntoTwo(offsets).Concat(Splits.IntoThree(offsets)).Append(Splits.Finest(offsets)))
        {
            var pieces = Splits.Cut(bytes, cuts);
            var (chunks, flushed) = DecodeAll(pieces);
            Assert.Empty(flushed);
            Assert.All(chunks, c => Assert.True(Utf8.IsValid(c), $"chunk {Splits.Describe(c)} of {Splits.Describe(pieces)} is not valid UTF-8"));
            Assert.True(
                expected == Encoding.UTF8.GetString([.. chunks.SelectMany(c => c)]),
                $"{Splits.Describe(pieces)} decoded to {Splits.Describe([.. chunks.SelectMany(c => c)])}, expected \"{expected}\"");
        }
    }

    [Theory]
    [InlineData("C3")]
    [InlineData("E697")]
    [InlineData("F09F98")]
    [InlineData("E080")]
    public void An_invalid_or_incomplete_tail_flushes_as_a_single_replacement_character(string hex)
    {
        var decoder = new Utf8PieceDecoder();
        var text = decoder.Decode([.. "ok"u8, .. Convert.FromHexString(hex)]).ToArray();
        Assert.Equal("ok", Encoding.UTF8.GetString(text));
        Assert.Equal(hex.Length / 2, decoder.PendingBytes);
        Assert.Equal("\uFFFD", Encoding.UTF8.GetString(decoder.Flush()));
        Assert.Equal(0, decoder.PendingBytes);
        Assert.True(decoder.Flush().IsEmpty);
    }

    [Fact]
    public void Random_bytes_decode_like_the_framework_decoder_for_every_split()
    {
        // Bytes drawn mostly from the interesting ranges (ASCII, continuation, every kind of lead
        // byte, never-valid bytes), with an ASCII byte last so nothing is pending at the end.
        byte[] alphabet = [0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xC3, 0xDF, 0xE0, 0xE6, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF];
        var random = new Random(20240601);
        for (var sample = 0; sample < 400; sample++)
        {
            var bytes = new byte[random.Next(0, 12) + 1];
            for (var i = 0; i < bytes.Length - 1; i++)
            {
                bytes[i] = random.Next(4) == 0 ? (byte)random.Next(256) : alphabet[random.Next(alphabet.Length)];
            }

            bytes[^1] = (byte)'z';
            var expected = Encoding.UTF8.GetString(bytes);
            var offsets = Splits.ByteOffsets(bytes.Length);
            foreach (var cuts in Splits.IntoTwo(offsets).Concat(Splits.IntoThree(offsets)))
            {
                var pieces = Splits.Cut(bytes, cuts);
                var (chunks, flushed) = DecodeAll(pieces);
                Assert.Empty(flushed);
                var actual = chunks.SelectMany(c => c).ToArray();
                Assert.True(Utf8.IsValid(actual));
                Assert.True(expected == Encoding.UTF8.GetString(actual), $"{Splits.Describe(pieces)} decoded to {Splits.Describe(actual)}, expected \"{expected}\"");
            }
        }
    }

    [Fact]
    public void A_decoder_is_reusable_after_flush()
    {
        var decoder = new Utf8PieceDecoder();
        Assert.True(decoder.Decode([0xE6, 0x97]).IsEmpty);
        Assert.Equal("\uFFFD", Encoding.UTF8.GetString(decoder.Flush()));
        Assert.Equal("日本", Encoding.UTF8.GetString(decoder.Decode("日本"u8)));
        Assert.True(decoder.Flush().IsEmpty);
    }

    private static void AssertReassembles(byte[] bytes, byte[][] pieces)
    {
        var (chunks, flushed) = DecodeAll(pieces);
        Assert.Empty(flushed);
        var output = chunks.SelectMany(c => c).ToArray();
        Assert.True(bytes.AsSpan().SequenceEqual(output), $"{Splits.Describe(pieces)} reassembled to {Splits.Describe(output)}");
        Assert.All(chunks, c => Assert.True(Utf8.IsValid(c), $"chunk {Splits.Describe(c)} of {Splits.Describe(pieces)} is not whole characters"));
    }

    /// <summary>Decodes the pieces in order; returns the non-empty chunks (copied) and what Flush returned.</summary>
    private static (List<byte[]> Chunks, byte[] Flushed) DecodeAll(byte[][] pieces)
    {
        var decoder = new Utf8PieceDecoder();
        var chunks = new List<byte[]>();
        foreach (var piece in pieces)
        {
            var chunk = decoder.Decode(piece);
            if (!chunk.IsEmpty)
            {
                chunks.Add(chunk.ToArray());
            }

            Assert.InRange(decoder.PendingBytes, 0, 3);
        }

        var flushed = decoder.Flush().ToArray();
        Assert.Equal(0, decoder.PendingBytes);
        return (chunks, flushed);
    }
}
