using System.Text;
using Tokenflow.LlamaCpp.Grammar;

namespace Tokenflow.LlamaCpp.Tests.Grammar;

public sealed class JsonValueEndTests
{
    [Theory]
    [InlineData("""{"a":"}]","b":[1,{"c":"\"}"}]}""")]
    [InlineData("""[[],{},"]\\"]""")]
    [InlineData("{}")]
    public void The_end_is_the_last_byte_of_the_top_level_container_for_every_prefix(string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        for (var split = 0; split <= bytes.Length; split++)
        {
            var end = new JsonValueEnd();

            var first = end.Feed(bytes.AsSpan(0, split));

            Assert.Equal(split == bytes.Length, first);
            Assert.True(end.Feed(bytes.AsSpan(split)));
        }
    }

    [Theory]
    [InlineData("123")]
    [InlineData("\"{}\"")]
    [InlineData("true")]
    public void A_top_level_scalar_never_ends_by_itself(string json)
        => Assert.False(new JsonValueEnd().Feed(Encoding.UTF8.GetBytes(json)));
}
