using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Sim;
using Tokenflow.Core.Streams;
using Tokenflow.Core.Tests.Streams;
using Tokenflow.Core.Watches;

namespace Tokenflow.Core.Tests.Watches;

/// <summary>
/// Watches fire once, at exactly the delta that completes their match, however the output is split into
/// pieces; <c>cancel_on</c> stops the model on the token that completed the match.
/// </summary>
public sealed class WatchTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task A_regex_watch_fires_at_exactly_the_first_seq_whose_text_matches_for_every_split()
    {
        const string text = "Zürich → the answer is 42. Then more: 7.";
        var bytes = Encoding.UTF8.GetBytes(text);
        var regex = new Regex(@"\d+\.");
        using var store = TestStore.Create(_time);
        var runner = new GenerationRunner(store, _time, NullLogger<GenerationRunner>.Instance);
        foreach (var split in Splits(bytes.Length))
        {
            Assert.True(WatchSpec.TryCreateRegex("w1", regex.ToString(), out var watch, out _));
            var events = await RunAsync(store, runner, Pieces(bytes, split), new GenerationOptions { MaxTokens = 1000, Watches = [watch!] });

            var fired = Assert.Single(events, e => e.Kind == StreamEventKind.Watch);
            var prefix = new StringBuilder();
            var expectedSeq = 0L;
            foreach (var e in events.Where(e => e.Kind == StreamEventKind.Delta))
            {
                prefix.Append(e.Text);
                if (regex.IsMatch(prefix.ToString()))
                {
                    expectedSeq = e.Seq;
                    break;
                }
            }

            Assert.Equal(expectedSeq, fired.Watch!.WatchId == "w1" ? fired.Watch.Seq : -1);
            Assert.Equal(expectedSeq + 1, fired.Seq);
            Assert.Equal(JsonSerializer.Serialize(regex.Match(prefix.ToString()).Value), fired.Watch.MatchJson);
            Assert.Equal(text, string.Concat(events.Where(e => e.Kind == StreamEventKind.Delta).Select(e => e.Text)));
        }
    }

    [Theory]
    [InlineData("$.items[1]")]
    [InlineData("$.title")]
    [InlineData("$.items[2].deep")]
    [InlineData("$.items")]
    [InlineData("$['n']")]
    [InlineData("$")]
    public async Task A_json_path_watch_fires_when_the_value_is_complete_for_every_split(string path)
    {
        const string document = """{"title":"Zürich \"Hbf\"","items":[1,22,{"deep":true}],"n":12, "tail":[]}""";
        var bytes = Encoding.UTF8.GetBytes(document);
        var (end, isNumber) = ValueEnd(bytes, path);
        var expectedValue = Select(JsonNode.Parse(document), path)?.ToJsonString() ?? "null";
        using var store = TestStore.Create(_time);
        var runner = new GenerationRunner(store, _time, NullLogger<GenerationRunner>.Instance);
        foreach (var split in Splits(bytes.Length))
        {
            Assert.True(WatchSpec.TryCreateJsonPath("w", path, out var watch, out _));
            var events = await RunAsync(store, runner, Pieces(bytes, split), new GenerationOptions { MaxTokens = 1000, Watches = [watch!] });

            // Complete once the text reaches the value's end; a number also needs the character after it.
            var needed = isNumber ? end + 1 : end;
            var released = 0;
            var expectedSeq = 0L;
            foreach (var e in events.Where(e => e.Kind == StreamEventKind.Delta))
            {
                released += e.Utf8.Length;
                if (released >= needed)
                {
                    expectedSeq = e.Seq;
                    break;
                }
            }

            var fired = Assert.Single(events, e => e.Kind == StreamEventKind.Watch);
            Assert.Equal(expectedSeq, fired.Watch!.Seq);
            Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expectedValue), JsonNode.Parse(fired.Watch.MatchJson)), $"{fired.Watch.MatchJson} != {expectedValue}");
        }
    }

    [Fact]
    public async Task Cancel_on_stops_the_model_on_the_token_that_completed_the_match()
    {
        using var store = TestStore.Create(_time);
        var runner = new GenerationRunner(store, _time, NullLogger<GenerationRunner>.Instance);
        var sim = new SimBackend(_time);
        for (var seed = 0; seed < 10; seed++)
        {
            // The first token count whose text contains "agents".
            var needed = 1;
            while (!SimBackend.ExpectedText(seed, needed).Contains("agents", StringComparison.Ordinal))
            {
                needed++;
            }

            Assert.True(WatchSpec.TryCreateRegex("stop", "agents", out var watch, out _));
            var request = new BackendRequest { Model = SimBackend.ModelId, Prompt = "x", Seed = seed, MaxTokens = 100_000 };
            var start = await runner.StartAsync(new ModelEntry(SimBackend.ModelId, "t", sim), request, new GenerationOptions { MaxTokens = 100_000, Watches = [watch!], CancelOn = "stop" }, CancellationToken.None);
            var events = await ReadAsync(store, start.StreamId!);

            Assert.Equal(FinishReason.Cancelled, events[^1].FinishReason);
            Assert.Equal(needed, events[^1].Usage.CompletionTokens);
            Assert.Single(events, e => e.Kind == StreamEventKind.Watch);
            Assert.Equal(StreamState.Cancelled, (await store.GetStatusAsync(start.StreamId!, CancellationToken.None))!.State);
        }
    }

    [Fact]
    public async Task A_watch_added_while_the_stream_runs_fires_and_a_duplicate_id_is_refused()
    {
        using var store = TestStore.Create(_time);
        var runner = new GenerationRunner(store, _time, NullLogger<GenerationRunner>.Instance);
        var gate = new GatedBackend();
        var start = await runner.StartAsync(new ModelEntry("gated", "t", gate), new BackendRequest { Model = "gated", Prompt = "x" }, new GenerationOptions { MaxTokens = 100 }, CancellationToken.None);
        await gate.FirstPieceTaken.WaitAsync(StreamTranscript.Timeout);

        Assert.True(WatchSpec.TryCreateRegex("late", "world", out var watch, out _));
        Assert.Equal(WatchAddResult.Added, runner.TryAddWatch(start.StreamId!, watch!));
        Assert.Equal(WatchAddResult.DuplicateId, runner.TryAddWatch(start.StreamId!, watch!));
        gate.Release.SetResult();
        var events = await ReadAsync(store, start.StreamId!);

        var fired = Assert.Single(events, e => e.Kind == StreamEventKind.Watch);
        Assert.Equal("\"world\"", fired.Watch!.MatchJson);
        Assert.Equal(WatchAddResult.NotRunning, runner.TryAddWatch(start.StreamId!, watch!));
    }

    /// <summary>Piece-size patterns: every fixed size, then seeded random cuts.</summary>
    private static IEnumerable<int[]> Splits(int length)
    {
        for (var size = 1; size <= length; size++)
        {
            yield return Enumerable.Repeat(size, (length + size - 1) / size).ToArray();
        }

        var random = new Random(1234);
        for (var i = 0; i < 60; i++)
        {
            var sizes = new List<int>();
            for (var left = length; left > 0;)
            {
                var size = Math.Min(left, random.Next(1, 6));
                sizes.Add(size);
                left -= size;
            }

            yield return [.. sizes];
        }
    }

    private static List<byte[]> Pieces(byte[] bytes, int[] sizes)
    {
        var pieces = new List<byte[]>();
        var at = 0;
        foreach (var size in sizes)
        {
            var take = Math.Min(size, bytes.Length - at);
            if (take <= 0)
            {
                break;
            }

            pieces.Add(bytes[at..(at + take)]);
            at += take;
        }

        return pieces;
    }

    private static async Task<List<Seen>> RunAsync(MemoryStreamStore store, GenerationRunner runner, List<byte[]> pieces, GenerationOptions options)
    {
        var start = await runner.StartAsync(new ModelEntry("scripted", "t", new ScriptedBackend(pieces)), new BackendRequest { Model = "scripted", Prompt = "x", MaxTokens = 1000 }, options, CancellationToken.None);
        return await ReadAsync(store, start.StreamId!);
    }

    private static async Task<List<Seen>> ReadAsync(MemoryStreamStore store, string id)
    {
        var (_, reader) = await store.OpenReaderAsync(id, 0, CancellationToken.None);
        await using var _ = reader!;
        using var timeout = new CancellationTokenSource(StreamTranscript.Timeout);
        var events = new List<Seen>();
        while (events.Count == 0 || !events[^1].IsTerminal)
        {
            Assert.True(await reader!.WaitToReadAsync(timeout.Token));
            while (reader.TryRead(out var e))
            {
                events.Add(new Seen(e.Seq, e.Kind, e.Text.ToArray(), e.Watch, e.FinishReason, e.Usage));
            }
        }

        return events;
    }

    /// <summary>The byte offset just after the value at <paramref name="path"/> in <paramref name="json"/>, found with Utf8JsonReader.</summary>
    private static (int End, bool IsNumber) ValueEnd(byte[] json, string path)
    {
        var target = Select(JsonNode.Parse(json), path);
        var reader = new Utf8JsonReader(json);
        var stack = new Stack<(bool IsArray, int Index, string? Name)>();
        string? pendingName = null;
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.PropertyName)
            {
                pendingName = reader.GetString();
                continue;
            }

            var here = Here(stack, pendingName);
            if (reader.TokenType is JsonTokenType.EndObject or JsonTokenType.EndArray)
            {
                var (_, _, name) = stack.Pop();
                if (Normalize(path) == name)
                {
                    return ((int)reader.BytesConsumed, false);
                }

                continue;
            }

            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                stack.Push((reader.TokenType == JsonTokenType.StartArray, 0, here));
                pendingName = null;
                continue;
            }

            pendingName = null;
            if (Normalize(path) == here)
            {
                return ((int)reader.BytesConsumed, reader.TokenType == JsonTokenType.Number);
            }
        }

        throw new InvalidOperationException($"{path} not found ({target})");
    }

    // The path of the value about to be read, in the form "$.a[1].b", advancing the parent's array index.
    private static string Here(Stack<(bool IsArray, int Index, string? Name)> stack, string? pendingName)
    {
        if (stack.Count == 0)
        {
            return "$";
        }

        var (isArray, index, name) = stack.Pop();
        var here = isArray ? $"{name}[{index}]" : $"{name}.{pendingName}";
        stack.Push((isArray, isArray ? index + 1 : index, name));
        return here;
    }

    private static string Normalize(string path) => Regex.Replace(path, @"\['([^']*)'\]", ".$1");

    private static JsonNode? Select(JsonNode? node, string path)
    {
        foreach (Match step in Regex.Matches(Normalize(path), @"\.([^.\[]+)|\[(\d+)\]"))
        {
            node = step.Groups[1].Success ? node![step.Groups[1].Value] : node![int.Parse(step.Groups[2].Value)];
        }

        return node;
    }

    private sealed record Seen(long Seq, StreamEventKind Kind, byte[] Utf8, WatchMatch? Watch, FinishReason FinishReason, Usage Usage)
    {
        public string Text => Encoding.UTF8.GetString(Utf8);

        public bool IsTerminal => Kind is StreamEventKind.Done or StreamEventKind.Error;
    }

    private sealed class ScriptedBackend(List<byte[]> pieces) : IModelBackend
    {
        public async IAsyncEnumerable<TokenPiece> GenerateAsync(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.Yield();
            foreach (var piece in pieces)
            {
                yield return new TokenPiece(piece);
            }
        }
    }

    /// <summary>Yields "hello ", waits to be released, then "world".</summary>
    private sealed class GatedBackend : IModelBackend
    {
        private readonly TaskCompletionSource _taken = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task FirstPieceTaken => _taken.Task;

        public async IAsyncEnumerable<TokenPiece> GenerateAsync(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.Yield();
            yield return new TokenPiece("hello "u8.ToArray());
            _taken.SetResult();
            await Release.Task.WaitAsync(cancellationToken);
            yield return new TokenPiece("world"u8.ToArray());
        }
    }
}
