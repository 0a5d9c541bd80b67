using System.Text;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Streams;
using Tokenflow.LlamaCpp.Grammar;

namespace Tokenflow.LlamaCpp.Tests.Grammar;

public sealed class ToolCallStreamTests
{
    private static readonly ToolCallTarget[] Targets =
    [
        new("get", Encoding.UTF8.GetBytes("{\"name\":\"get\",\"arguments\":")),
        new("get_all", Encoding.UTF8.GetBytes("{\"name\":\"get_all\",\"arguments\":")),
    ];

    [Theory]
    [InlineData("get", """{"city":"Zoar","n":[1,{"x":"}"}]}""")]
    [InlineData("get_all", "{}")]
    [InlineData("get", """{"s":"é ü \"q\" \\"}""")]
    public void Every_split_of_the_output_gives_the_arguments_exactly(string name, string arguments)
    {
        var output = Encoding.UTF8.GetBytes($"{{\"name\":\"{name}\",\"arguments\":{arguments}}}");
        for (var a = 1; a < output.Length; a++)
        {
            for (var b = a; b < output.Length; b++)
            {
                var (pieces, text) = Run(output, [0, a, b, output.Length], complete: true);

                Assert.Equal(arguments, text);
                Assert.Equal(DeltaChannel.ToolCall, pieces[0].Channel);
                Assert.Equal("call_test", pieces[0].ToolCallId);
                Assert.Equal(name, pieces[0].ToolName);
                Assert.All(pieces.Skip(1), p => Assert.Null(p.ToolCallId));
            }
        }
    }

    [Fact]
    public void The_start_comes_with_the_token_that_completes_the_name()
    {
        var stream = new ToolCallStream(Targets, "call_x");

        Assert.False(stream.TryFeed(Encoding.UTF8.GetBytes("{\"name\":\"get"), 1, out _));
        Assert.True(stream.TryFeed(Encoding.UTF8.GetBytes("\",\"arguments\":{\"a"), 2, out var start));

        Assert.Equal("get", start.ToolName);
        Assert.Equal("{\"", Encoding.UTF8.GetString(start.Utf8.Span));
        Assert.Equal(2, start.TokenId);
    }

    [Fact]
    public void Output_cut_before_the_name_is_complete_comes_back_as_text()
    {
        var stream = new ToolCallStream(Targets, "call_x");
        Assert.False(stream.TryFeed(Encoding.UTF8.GetBytes("{\"name\":\"ge"), 1, out _));

        Assert.True(stream.TryFinish(complete: false, out var piece));

        Assert.Equal(DeltaChannel.Content, piece.Channel);
        Assert.Equal("{\"name\":\"ge", Encoding.UTF8.GetString(piece.Utf8.Span));
    }

    [Fact]
    public void Arguments_cut_by_a_limit_keep_their_last_byte()
    {
        var output = Encoding.UTF8.GetBytes("{\"name\":\"get\",\"arguments\":{\"a\":12");

        var (_, text) = Run(output, [0, 20, output.Length - 1, output.Length], complete: false);


        Assert.Equal("{\"a\":12", text);
    }

    private static (List<TokenPiece> Pieces, string Arguments) Run(byte[] output, int[] cuts, bool complete)
    {
        var stream = new ToolCallStream(Targets, "call_test");
        var pieces = new List<TokenPiece>();
        var arguments = new List<byte>();
        for (var i = 0; i + 1 < cuts.Length; i++)
        {
            if (stream.TryFeed(output.AsSpan(cuts[i], cuts[i + 1] - cuts[i]), i, out var piece))
            {
                pieces.Add(piece);
                arguments.AddRange(piece.Utf8.Span);
            }
        }

        if (stream.TryFinish(complete, out var last))
        {
            pieces.Add(last);
            arguments.AddRange(last.Utf8.Span);
        }

        return (pieces, Encoding.UTF8.GetString([.. arguments]));
    }
}
