using Tokenflow.Core.Streams;

namespace Tokenflow.Core.Tests.Streams;

public sealed class StreamIdsTests
{
    private const string Base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    [Theory]
    [InlineData("chatcmpl-")]
    [InlineData("cmpl-")]
    [InlineData("")]
    public void A_new_id_is_the_prefix_followed_by_22_base62_characters(string prefix)
    {
        for (var i = 0; i < 1000; i++)
        {
            var id = StreamIds.New(prefix);
            Assert.StartsWith(prefix, id, StringComparison.Ordinal);
            Assert.Equal(prefix.Length + 22, id.Length);
            Assert.Equal(22, StreamIds.RandomLength);
            Assert.All(id[prefix.Length..], c => Assert.Contains(c, Base62));
            Assert.True(StreamIds.IsWellFormed(id));
        }
    }

    [Fact]
    public void A_hundred_thousand_ids_never_collide_and_use_the_whole_alphabet()
    {
        const int Count = 100_000;
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var lastCharacters = new HashSet<char>();
        for (var i = 0; i < Count; i++)
        {
            var id = StreamIds.New("chatcmpl-");
            Assert.True(ids.Add(id), $"collision: {id}");
            lastCharacters.Add(id[^1]);
        }

        Assert.Equal(Count, ids.Count);
        Assert.Equal(Base62.Length, lastCharacters.Count);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("chatcmpl-abc def")]
    [InlineData("chatcmpl-abc/def")]
    [InlineData("../../etc/passwd")]
    [InlineData("chatcmpl-abc.def")]
    [InlineData("chatcmpl-abc\n")]
    [InlineData("chatcmpl-abc%2F")]
    [InlineData("<script>")]
    [InlineData("chatcmpl-café")]
    [InlineData("chatcmpl-日本")]
    [InlineData("chatcmpl-\0")]
    [InlineData("chatcmpl-ＡＢＣ")]
    public void IsWellFormed_rejects_unsafe_characters(string id) => Assert.False(StreamIds.IsWellFormed(id));

    [Fact]
    public void IsWellFormed_rejects_ids_longer_than_128_characters_and_accepts_up_to_128()
    {
        Assert.True(StreamIds.IsWellFormed(new string('a', 128)));
        Assert.False(StreamIds.IsWellFormed(new string('a', 129)));
        Assert.False(StreamIds.IsWellFormed(new string('a', 100_000)));
    }

    [Theory]
    [InlineData("chatcmpl-0123456789ABCDEFGHIJKL")]
    [InlineData("cmpl-zzzzzzzzzzzzzzzzzzzzzz")]
    [InlineData("my_stream-1")]
    [InlineData("a")]
    public void IsWellFormed_accepts_letters_digits_dashes_and_underscores(string id) => Assert.True(StreamIds.IsWellFormed(id));
}
