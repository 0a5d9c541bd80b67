using System.Text;
using System.Text.Unicode;
using Microsoft.Extensions.Time.Testing;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Sim;

namespace Tokenflow.Core.Tests.Sim;

public sealed class SimBackendTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_pieces_concatenate_to_the_expected_text_for_every_seed()
    {
        var sim = new SimBackend(TimeProvider.System);
        for (var seed = -5L; seed < 50; seed++)
        {
            var bytes = new List<byte>();
            await foreach (var piece in sim.GenerateAsync(Request(seed), CancellationToken.None).Take(57))
            {
                bytes.AddRange(piece.Utf8.ToArray());
            }

            Assert.Equal(SimBackend.ExpectedBytes(seed, 57), bytes.ToArray());
        }
    }

    [Fact]
    public async Task The_same_seed_gives_the_same_pieces_and_another_seed_does_not()
    {
        var sim = new SimBackend(TimeProvider.System);
        var first = await Pieces(sim, Request(11), 100);
        var again = await Pieces(sim, Request(11), 100);
        var other = await Pieces(sim, Request(12), 100);
        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
    }

    [Fact]
    public async Task Some_pieces_split_a_character_and_the_next_piece_completes_it()
    {
        var sim = new SimBackend(TimeProvider.System);
        var pieces = await Pieces(sim, Request(1), 500);
        var split = pieces.Count(p => !Utf8.IsValid(Convert.FromHexString(p)));
        Assert.InRange(split, 1, 499);

        // A piece that ends inside a character is followed by the piece that finishes it (and
        // that second piece, starting inside the character, is not valid alone either).
        for (var i = 0; i < pieces.Count - 1; i++)
        {
            if (!Utf8.IsValid(Convert.FromHexString(pieces[i])))
            {
                Assert.False(Utf8.IsValid(Convert.FromHexString(pieces[i + 1])));
                Assert.True(Utf8.IsValid(Convert.FromHexString(pieces[i] + pieces[i + 1])));
                i++;
            }
        }
    }

    [Fact]
    public async Task Prompt_tokens_are_set_before_the_first_piece()
    {
        var sim = new SimBackend(TimeProvider.System);
        var prompt = Request(1, prompt: "count these four words");
        await using (var e = sim.GenerateAsync(prompt, CancellationToken.None).GetAsyncEnumerator())
        {
            Assert.True(await e.MoveNextAsync());
            Assert.Equal(4, prompt.PromptTokens);
        }

        var chat = new BackendRequest
        {
            Model = SimBackend.ModelId,
            Seed = 1,
            Messages = [new ChatMessage("system", "be brief"), new ChatMessage("user", "hello there model")],
        };
        await using (var e = sim.GenerateAsync(chat, CancellationToken.None).GetAsyncEnumerator())
        {
            Assert.True(await e.MoveNextAsync());
            Assert.Equal((2 + 3) + (3 + 3) + 3, chat.PromptTokens);
        }
    }

    [Fact]
    public async Task Pacing_waits_on_the_clock_before_the_first_token_and_between_tokens()
    {
        var time = new FakeTimeProvider();
        var sim = new SimBackend(time);
        var request = Request(3, tokensPerSecond: 10, ttftMs: 250);
        await using var e = sim.GenerateAsync(request, CancellationToken.None).GetAsyncEnumerator();

        var first = e.MoveNextAsync().AsTask();
        time.Advance(TimeSpan.FromMilliseconds(249));
        Assert.False(first.IsCompleted, "first token before its time to first token");
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(await first.WaitAsync(Timeout));

        for (var i = 0; i < 3; i++)
        {
            var next = e.MoveNextAsync().AsTask();
            time.Advance(TimeSpan.FromMilliseconds(99));
            Assert.False(next.IsCompleted, "token before its interval");
            time.Advance(TimeSpan.FromMilliseconds(1));
            Assert.True(await next.WaitAsync(Timeout));
        }
    }

    [Fact]
    public async Task Cancelling_stops_the_enumeration_at_the_next_token()
    {
        var time = new FakeTimeProvider();
        var sim = new SimBackend(time);
        using var cts = new CancellationTokenSource();
        await using var e = sim.GenerateAsync(Request(3, tokensPerSecond: 10), cts.Token).GetAsyncEnumerator();
        Assert.True(await e.MoveNextAsync());

        var pending = e.MoveNextAsync().AsTask();
        Assert.False(pending.IsCompleted);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.WaitAsync(Timeout));
    }

    private static BackendRequest Request(long seed, string prompt = "hi", double tokensPerSecond = 0, int ttftMs = 0) => new()
    {
        Model = SimBackend.ModelId,
        Prompt = prompt,
        Seed = seed,
        SimTokensPerSecond = tokensPerSecond,
        SimTtftMs = ttftMs,
    };

    private static async Task<List<string>> Pieces(SimBackend sim, BackendRequest request, int count)
    {
        var pieces = new List<string>();
        await foreach (var piece in sim.GenerateAsync(request, CancellationToken.None).Take(count))
        {
            pieces.Add(Convert.ToHexString(piece.Utf8.Span));
        }

        return pieces;
    }
}
