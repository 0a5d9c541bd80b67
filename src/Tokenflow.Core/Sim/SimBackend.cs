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
/// <remarks>
/// With tools and <c>tool_choice</c> <c>required</c> or a named function, <c>sim</c> answers with
/// <see cref="BackendRequest.SimToolCalls"/> tool calls instead (one when parallel tool calls are
/// off): the named function (else the first), then each next function in the list, wrapping, with
/// arguments from the seed that validate against the function's <c>parameters</c>. With
/// <c>response_format</c> <c>json_object</c> or <c>json_schema</c> the text is such a JSON value.
/// Either is streamed in fragments of 4 to 10 bytes (each one piece, so one token of
/// <c>max_tokens</c>: the default 64 carry about 450 bytes), cut anywhere, inside characters too,
/// and then the answer ends by itself. See <see cref="ExpectedToolCalls"/> and <see cref="ExpectedJson"/>.
/// </remarks>
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

    /// <summary>
    /// The tool calls <c>sim</c> makes for <paramref name="request"/> (for tests): empty when the
    /// request does not force tools. The request must carry a <see cref="BackendRequest.Seed"/>.
    /// </summary>
    public static IReadOnlyList<ChatToolCall> ExpectedToolCalls(BackendRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var seed = request.Seed ?? throw new ArgumentException("The request needs a seed.", nameof(request));
        return ForcesToolCalls(request) ? [.. PlanToolCalls(request, seed).Select(c => new ChatToolCall(c.Id, c.Name, Encoding.UTF8.GetString(c.Arguments)))] : [];
    }

    /// <summary>
    /// The JSON text <c>sim</c> answers <paramref name="request"/> with when it asks for
    /// <c>json_object</c> or <c>json_schema</c> (for tests); null for other requests. Needs a seed.
    /// </summary>
    public static string? ExpectedJson(BackendRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var seed = request.Seed ?? throw new ArgumentException("The request needs a seed.", nameof(request));
        return !ForcesToolCalls(request) && AnswersJson(request) ? Encoding.UTF8.GetString(PlanJson(request, seed)) : null;
    }

    /// <summary>The arguments (UTF-8 JSON) <c>sim</c> generates from <paramref name="seed"/> for call <paramref name="index"/> of a function with <paramref name="parameters"/>.</summary>
    public static string ExpectedArguments(long seed, int index, System.Text.Json.JsonElement? parameters)
        => Encoding.UTF8.GetString(Arguments(seed, index, parameters));

    /// <inheritdoc />
    public async IAsyncEnumerable<TokenPiece> GenerateAsync(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        request.PromptTokens = CountPromptTokens(request);
        var seed = request.Seed ?? Random.Shared.NextInt64();
        if (request.SimTtftMs > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(request.SimTtftMs), _timeProvider, cancellationToken).ConfigureAwait(false);
        }

        var pace = new Pace(_timeProvider, request.SimTokensPerSecond);
        if (ForcesToolCalls(request))
        {
            var fragments = SplitMix64.For(seed, FragmentStream);
            foreach (var call in PlanToolCalls(request, seed))
            {
                var first = true;
                foreach (var fragment in Fragments(call.Arguments, fragments))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    await pace.NextAsync(cancellationToken).ConfigureAwait(false);
                    yield return first ? TokenPiece.ToolCallStart(call.Index, call.Id, call.Name, fragment) : TokenPiece.ToolCallArguments(call.Index, fragment);
                    first = false;
                }
            }

            yield break;
        }

        if (AnswersJson(request))
        {
            foreach (var fragment in Fragments(PlanJson(request, seed), SplitMix64.For(seed, FragmentStream)))
            {
                cancellationToken.ThrowIfCancellationRequested();
                await pace.NextAsync(cancellationToken).ConfigureAwait(false);
                yield return new TokenPiece(fragment);
            }

            yield break;
        }

        var rng = new SplitMix64(seed);
        while (true)
        {
            foreach (var piece in WordPieces[rng.Next(WordPieces.Length)])
            {
                cancellationToken.ThrowIfCancellationRequested();
                await pace.NextAsync(cancellationToken).ConfigureAwait(false);
                yield return new TokenPiece(piece);
            }
        }
    }

    private const long FragmentStream = 0x46524147;
    private const long IdStream = 0x1D00;
    private const long ArgumentStream = 0x4A50;
    private const long JsonStream = 0x7A500000;
    private const string Base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    private static bool ForcesToolCalls(BackendRequest request)
        => request.Tools is { Count: > 0 } && request.ToolChoice?.Mode is ToolChoiceMode.Required or ToolChoiceMode.Function;

    private static bool AnswersJson(BackendRequest request)
        => request.ResponseFormat?.Kind is ResponseFormatKind.JsonObject or ResponseFormatKind.JsonSchema;

    /// <summary>The calls to make, each one's arguments generated only when it is reached (max_tokens may end the answer first).</summary>
    private static IEnumerable<(int Index, string Id, string Name, byte[] Arguments)> PlanToolCalls(BackendRequest request, long seed)
    {
        var tools = request.Tools!;
        var first = 0;
        if (request.ToolChoice is { Mode: ToolChoiceMode.Function, FunctionName: { } named })
        {
            first = Math.Max(0, tools.ToList().FindIndex(t => t.Name == named));
        }

        var count = request.ParallelToolCalls ? Math.Max(1, request.SimToolCalls) : 1;
        for (var k = 0; k < count; k++)
        {
            var tool = tools[(first + k) % tools.Count];
            yield return (k, CallId(seed, k), tool.Name, Arguments(seed, k, tool.Parameters));
        }
    }

    private static byte[] Arguments(long seed, int index, System.Text.Json.JsonElement? parameters)
        => parameters is null ? "{}"u8.ToArray() : SimJson.Generate(parameters, SplitMix64.For(seed, ArgumentStream + index));

    private static byte[] PlanJson(BackendRequest request, long seed)
        => SimJson.Generate(request.ResponseFormat!.Kind == ResponseFormatKind.JsonSchema ? request.ResponseFormat.Schema : null, SplitMix64.For(seed, JsonStream));

    /// <summary>"call_" and 24 base62 characters, from the seed and the call's index.</summary>
    private static string CallId(long seed, int index)
    {
        var rng = SplitMix64.For(seed, IdStream + index);
        return string.Create(29, rng, static (span, state) =>
        {
            "call_".CopyTo(span);
            for (var i = 5; i < span.Length; i++)
            {
                span[i] = Base62[state.Next(Base62.Length)];
            }
        });
    }

    /// <summary>The bytes cut into pieces of 4 to 10 bytes, wherever that falls (inside a character too).</summary>
    private static IEnumerable<ReadOnlyMemory<byte>> Fragments(byte[] bytes, SplitMix64 rng)
    {
        for (var at = 0; at < bytes.Length;)
        {
            var length = Math.Min(4 + rng.Next(7), bytes.Length - at);
            yield return bytes.AsMemory(at, length);
            at += length;
        }
    }

    /// <summary>Paces pieces against the start time, so rounding of each delay does not accumulate.</summary>
    private sealed class Pace(TimeProvider timeProvider, double tokensPerSecond)
    {
        private readonly TimeSpan _interval = tokensPerSecond > 0 ? TimeSpan.FromSeconds(1 / tokensPerSecond) : TimeSpan.Zero;
        private readonly long _start = timeProvider.GetTimestamp();
        private long _emitted;

        public Task NextAsync(CancellationToken cancellationToken)
        {
            if (_interval <= TimeSpan.Zero)
            {
                return Task.CompletedTask;
            }

            var due = (_interval * _emitted++) - timeProvider.GetElapsedTime(_start);
            return due > TimeSpan.Zero ? Task.Delay(due, timeProvider, cancellationToken) : Task.CompletedTask;
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
}
