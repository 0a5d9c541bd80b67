using System.Runtime.CompilerServices;
using System.Text;
using Tokenflow.Core.Backends;

namespace Tokenflow.Core.Sim;

/// <summary>
/// The simulated model <c>sim</c>, for tests and load benchmarks: deterministic word-like text
/// from the seed, one token after another forever (the generation's <c>max_tokens</c> ends it),
/// optionally paced by <see cref="BackendRequest.SimTokensPerSecond"/> and
/// <see cref="BackendRequest.SimTtftMs"/>. Its vocabulary has multi-byte characters, and some of
/// its tokens split a character between two pieces on purpose, so every run exercises UTF-8
/// reassembly. Yielding a token allocates nothing.
/// </summary>
public sealed class SimBackend : IModelBackend
{
    /// <summary>The model id.</summary>
    public const string ModelId = "sim";

    private static readonly string[] Words =
    [
        "the", "stream", "token", "flows", "and", "agents", "wait", "for", "every", "piece", "of", "text",
        "naïve", "café", "über", "façade", "smörgåsbord", "jalapeño", "São", "Paulo", "Zürich", "Ελλάδα",
        "Привет", "мир", "日本語", "東京", "中文", "한국어", "🙂", "🚀", "∑", "→", "ok", "yes", "model",
        "writes", "one", "word", "at", "a", "time", "so", "the", "reader", "sees", "it", "now", "—",
    ];

    /// <summary>Token table: each entry is one piece; multi-byte words are sometimes two pieces split inside a character.</summary>
    private static readonly byte[][][] WordPieces = BuildPieces();

    private readonly TimeProvider _timeProvider;

    /// <summary>Creates the simulator on the given clock.</summary>
    public SimBackend(TimeProvider timeProvider) => _timeProvider = timeProvider;

    /// <summary>
    /// The text a generation of <paramref name="tokens"/> pieces with <paramref name="seed"/> shows
    /// (for tests): a character cut by the token limit is dropped, as the generation drops it.
    /// </summary>
    public static string ExpectedText(long seed, int tokens)
    {
        var all = ExpectedBytes(seed, tokens);
        return Encoding.UTF8.GetString(all, 0, all.Length - Generation.Utf8PieceDecoder.IncompleteTailLength(all));
    }

    /// <summary>The raw bytes of the first <paramref name="tokens"/> pieces for <paramref name="seed"/> (may end inside a character).</summary>
    public static byte[] ExpectedBytes(long seed, int tokens)
    {
        var bytes = new List<byte>();
        var rng = new SplitMix64(seed);
        var count = 0;
        while (count < tokens)
        {
            foreach (var piece in WordPieces[rng.Next(WordPieces.Length)])
            {
                if (count++ == tokens)
                {
                    break;
                }

                bytes.AddRange(piece);
            }
        }

        return [.. bytes];
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<TokenPiece> GenerateAsync(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        request.PromptTokens = CountPromptTokens(request);
        var rng = new SplitMix64(request.Seed ?? Random.Shared.NextInt64());
        if (request.SimTtftMs > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(request.SimTtftMs), _timeProvider, cancellationToken).ConfigureAwait(false);
        }

        var interval = request.SimTokensPerSecond > 0 ? TimeSpan.FromSeconds(1 / request.SimTokensPerSecond) : TimeSpan.Zero;
        var start = _timeProvider.GetTimestamp();
        long emitted = 0;
        while (true)
        {
            foreach (var piece in WordPieces[rng.Next(WordPieces.Length)])
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (interval > TimeSpan.Zero)
                {
                    // Pace against the start time so rounding of each delay does not accumulate.
                    var due = interval * emitted - _timeProvider.GetElapsedTime(start);
                    if (due > TimeSpan.Zero)
                    {
                        await Task.Delay(due, _timeProvider, cancellationToken).ConfigureAwait(false);
                    }
                }

                emitted++;
                yield return new TokenPiece(piece);
            }
        }
    }

    private static int CountPromptTokens(BackendRequest request)
    {
        static int Words(string s) => s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
        if (request.Messages is { } messages)
        {
            return messages.Sum(m => Words(m.Content) + 3) + 3;
        }

        return Words(request.Prompt ?? string.Empty);
    }

    private static byte[][][] BuildPieces()
    {
        var table = new List<byte[][]>();
        foreach (var word in Words)
        {
            var bytes = Encoding.UTF8.GetBytes(" " + word);
            table.Add([bytes]);

            // A second entry for words with multi-byte characters: split inside the first one.
            var firstMultiByte = Array.FindIndex(bytes, b => b >= 0x80);
            if (firstMultiByte >= 0)
            {
                table.Add([bytes[..(firstMultiByte + 1)], bytes[(firstMultiByte + 1)..]]);
            }
        }

        return [.. table];
    }

    /// <summary>A small deterministic generator (SplitMix64), stable across .NET versions unlike <see cref="Random"/>.</summary>
    private struct SplitMix64(long seed)
    {
        private ulong _state = unchecked((ulong)seed);

        public int Next(int maxExclusive)
        {
            var z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            return (int)(z % (ulong)maxExclusive);
        }
    }
}
