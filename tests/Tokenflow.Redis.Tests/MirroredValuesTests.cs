using System.Reflection;
using System.Text.RegularExpressions;
using Tokenflow.Core.Durable;
using Tokenflow.Core.Streams;

namespace Tokenflow.Redis.Tests;

/// <summary>
/// Values the Redis store shares with something that is not C#: outcome codes and state names in its
/// Lua scripts, and enum bytes in the event batches other processes (and other versions) decode.
/// Each test fails when the C# side and the other side drift apart.
/// </summary>
public sealed partial class MirroredValuesTests
{
    /// <summary>The Lua name of every <see cref="DurableOutcome"/>, as the durable scripts' prelude declares it.</summary>
    private static readonly Dictionary<string, DurableOutcome> LuaOutcomeNames = new(StringComparer.Ordinal)
    {
        ["OK"] = DurableOutcome.Ok,
        ["CREATED"] = DurableOutcome.Created,
        ["EXISTS"] = DurableOutcome.Exists,
        ["ACCEPTED"] = DurableOutcome.Accepted,
        ["DUPLICATE"] = DurableOutcome.Duplicate,
        ["NOTFOUND"] = DurableOutcome.NotFound,
        ["GONE"] = DurableOutcome.Gone,
        ["CONFLICT"] = DurableOutcome.Conflict,
        ["CLOSED"] = DurableOutcome.Closed,
        ["INVALID"] = DurableOutcome.Invalid,
        ["STALE"] = DurableOutcome.StaleEpoch,
        ["GAP"] = DurableOutcome.SequenceGap,
        ["FULL"] = DurableOutcome.Full,
    };

    [Fact]
    public void Durable_outcome_numbers_equal_the_Lua_outcome_codes()
    {
        var declarations = LuaSources()
            .SelectMany(source => OutcomeDeclaration().Matches(source))
            .Where(match => match.Groups["names"].Value.Split(',').Select(n => n.Trim()).Contains("OK"))
            .ToList();
        var declaration = Assert.Single(declarations.Select(d => d.Value).Distinct());
        var match = OutcomeDeclaration().Match(declaration);
        var names = match.Groups["names"].Value.Split(',').Select(n => n.Trim()).ToArray();
        var numbers = match.Groups["numbers"].Value.Split(',').Select(n => int.Parse(n.Trim(), System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(names.Length, numbers.Length);

        for (var i = 0; i < names.Length; i++)
        {
            Assert.True(LuaOutcomeNames.TryGetValue(names[i], out var outcome), $"The Lua outcome {names[i]} has no DurableOutcome counterpart.");
            Assert.True((int)outcome == numbers[i], $"Lua {names[i]} = {numbers[i]}, but DurableOutcome.{outcome} = {(int)outcome}.");
        }

        // Every outcome a script may return has a Lua name; a new enum member needs one too.
        Assert.Equal(Enum.GetValues<DurableOutcome>().Order(), names.Select(n => LuaOutcomeNames[n]).Order());
    }

    [Fact]
    public void Stream_state_names_in_the_Lua_scripts_are_the_stores_state_names()
    {
        var known = Enum.GetValues<StreamState>().Select(StreamMeta.StateName).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(Enum.GetValues<StreamState>().Length, known.Count);

        var used = LuaSources().SelectMany(source => StateLiteral().Matches(source)).Select(m => m.Groups["state"].Value).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(used);
        Assert.All(used, state => Assert.Contains(state, known));
    }

    [Fact]
    public void Enum_numbers_stored_in_Redis_are_pinned()
    {
        // Event batches hold kind and finish reason as one byte each and are decoded by every process
        // sharing the Redis, possibly of another version: these numbers are a storage format.
        Assert.Equal([0, 1, 2, 3, 4], Enum.GetValues<StreamEventKind>().Select(v => (int)v));
        Assert.Equal(new[] { StreamEventKind.Delta, StreamEventKind.Usage, StreamEventKind.Error, StreamEventKind.Done, StreamEventKind.Watch }, Enum.GetValues<StreamEventKind>());
        Assert.Equal(new[] { FinishReason.None, FinishReason.Stop, FinishReason.Length, FinishReason.Cancelled, FinishReason.Error, FinishReason.ToolCalls, FinishReason.ContentFilter }, Enum.GetValues<FinishReason>());
        Assert.Equal([0, 1, 2, 3, 4, 5, 6], Enum.GetValues<FinishReason>().Select(v => (int)v));
        Assert.Equal(new[] { DeltaChannel.Content, DeltaChannel.Reasoning, DeltaChannel.ToolCall, DeltaChannel.Refusal }, Enum.GetValues<DeltaChannel>());
        Assert.Equal([0, 1, 2, 3], Enum.GetValues<DeltaChannel>().Select(v => (int)v));
        Assert.Equal(new[] { StreamState.Running, StreamState.Completed, StreamState.Cancelled, StreamState.Failed }, Enum.GetValues<StreamState>());
        Assert.Equal([0, 1, 2, 3], Enum.GetValues<StreamState>().Select(v => (int)v));

        var batch = EventBatchCodec.EncodeError(new StreamError("m", "t", null), new Usage(1, 2));
        Assert.Equal([2, 4], batch.AsSpan(0, 2).ToArray());
    }

    /// <summary>Every string constant of the Redis assembly that looks like a Lua script.</summary>
    private static IEnumerable<string> LuaSources()
        => typeof(RedisStreamStore).Assembly.GetTypes()
            .SelectMany(type => type.GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(field => field.IsLiteral && field.FieldType == typeof(string))
            .Select(field => (string)field.GetRawConstantValue()!)
            .Where(text => text.Contains("redis.call(", StringComparison.Ordinal));

    [GeneratedRegex(@"local\s+(?<names>[A-Z_]+(?:\s*,\s*[A-Z_]+)*)\s*=\s*(?<numbers>\d+(?:\s*,\s*\d+)*)")]
    private static partial Regex OutcomeDeclaration();

    // 'state' compared with or set to a literal: HGET …, 'state') ~= 'running' / HSET …, 'state', 'failed' / s[1] == 'running'.
    [GeneratedRegex(@"(?:'state'\)\s*[~=]=\s*|'HSET',[^\n]*?'state',\s*|s\[1\]\s*[~=]=\s*)'(?<state>[a-z]+)'")]
    private static partial Regex StateLiteral();
}
