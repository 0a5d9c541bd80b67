using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;
using Json.Schema;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Sim;
using Tokenflow.Core.Streams;
using Tokenflow.Core.Tests.Streams;

namespace Tokenflow.Core.Tests.Sim;

public sealed class SimToolCallTests
{
    private static readonly TimeSpan Timeout = StreamTranscript.Timeout;
    private static readonly EvaluationOptions Validation = new() { OutputFormat = OutputFormat.List, RequireFormatValidation = true };

    public static TheoryData<string> Schemas() => [.. SimSchemas.All];

    [Theory]
    [MemberData(nameof(Schemas))]
    public void Generated_arguments_validate_against_the_schema_for_every_seed(string schemaText)
    {
        var schema = JsonSchema.FromText(schemaText);
        var parameters = Parse(schemaText);
        var distinct = new HashSet<string>(StringComparer.Ordinal);
        for (var seed = -20L; seed < 300; seed++)
        {
            var arguments = SimBackend.ExpectedArguments(seed, 0, parameters);
            AssertValid(schema, arguments);
            Assert.Equal(arguments, SimBackend.ExpectedArguments(seed, 0, parameters));
            distinct.Add(arguments);
        }

        // The seed matters (the schema without properties has only one valid value).
        Assert.True(schemaText == SimSchemas.Empty || distinct.Count > 20, $"only {distinct.Count} different arguments over 320 seeds");
    }

    [Theory]
    [InlineData("""{"type":"object","properties":{"a":{"$ref":"#"},"b":{"$ref":"#"},"c":{"$ref":"#"}},"required":["a","b","c"]}""")]
    [InlineData("""{"type":"object","properties":{"n":{"type":"number","minimum":-1e400,"maximum":1e400,"multipleOf":1e-40}},"required":["n"]}""")]
    [InlineData("""{"type":"object","properties":{"i":{"type":"integer","multipleOf":1e300,"exclusiveMinimum":1e400}},"required":["i"]}""")]
    [InlineData("""{"type":"object","properties":{"s":{"type":"string","minLength":1e18},"l":{"type":"array","minItems":1e18,"items":{"type":"array","minItems":1e9}}},"required":["s","l"]}""")]
    [InlineData("""{"type":"object","properties":{"x":{"$ref":"#/nowhere"},"y":{"$ref":"https://example.com/s"},"z":{"allOf":[{"$ref":"#"}]}},"required":["x","y","z"]}""")]
    [InlineData("""{"type":"object","minProperties":1000000,"maxProperties":-3,"properties":{"q":false}}""")]
    public void A_hostile_schema_gives_bounded_json_without_throwing(string schemaText)
    {
        var parameters = Parse(schemaText);
        for (var seed = 0L; seed < 5; seed++)
        {
            var arguments = SimBackend.ExpectedArguments(seed, 0, parameters);
            Assert.InRange(arguments.Length, 2, 2_000_000);
            using var parsed = JsonDocument.Parse(arguments);
            Assert.Equal(JsonValueKind.Object, parsed.RootElement.ValueKind);
        }
    }

    [Fact]
    public void Arguments_of_later_calls_differ_from_the_first_and_no_parameters_means_an_empty_object()
    {
        var parameters = Parse(SimSchemas.Weather);
        Assert.NotEqual(SimBackend.ExpectedArguments(7, 0, parameters), SimBackend.ExpectedArguments(7, 1, parameters));
        Assert.Equal("{}", SimBackend.ExpectedArguments(7, 0, null));
    }

    [Fact]
    public async Task Forced_tool_calls_stream_as_fragments_that_concatenate_to_the_expected_calls()
    {
        var sim = new SimBackend(TimeProvider.System);
        var splitCharacters = 0;
        for (var seed = 0L; seed < 200; seed++)
        {
            var request = ToolRequest(seed, ToolChoice.Required, calls: 3);
            var expected = SimBackend.ExpectedToolCalls(request);
            Assert.Equal(3, expected.Count);

            var pieces = new List<TokenPiece>();
            var arguments = new Dictionary<int, List<byte>>();
            await foreach (var piece in sim.GenerateAsync(request, CancellationToken.None))
            {
                Assert.Equal(DeltaChannel.ToolCall, piece.Channel);
                Assert.InRange(piece.Utf8.Length, 1, 10);
                if (!Utf8.IsValid(piece.Utf8.Span))
                {
                    splitCharacters++;
                }

                if (piece.ToolCallId is not null)
                {
                    // A call starts once, with its id and name, before any of its other fragments.
                    Assert.False(arguments.ContainsKey(piece.ToolCallIndex));
                    Assert.Equal(expected[piece.ToolCallIndex].Id, piece.ToolCallId);
                    Assert.Equal(expected[piece.ToolCallIndex].Name, piece.ToolName);
                    arguments[piece.ToolCallIndex] = [];
                }

                arguments[piece.ToolCallIndex].AddRange(piece.Utf8.ToArray());
                pieces.Add(piece);
            }

            Assert.Equal([0, 1, 2], arguments.Keys.Order());
            for (var k = 0; k < 3; k++)
            {
                Assert.Equal(expected[k].Arguments, Encoding.UTF8.GetString([.. arguments[k]]));
                AssertValid(JsonSchema.FromText(k == 1 ? SimSchemas.Order : k == 0 ? SimSchemas.Weather : SimSchemas.Refs), expected[k].Arguments);
            }

            // Default max_tokens (64) is enough for these schemas.
            Assert.True(pieces.Count <= 64, $"seed {seed}: {pieces.Count} pieces");
        }

        Assert.True(splitCharacters > 0, "no fragment split a UTF-8 character");
    }

    [Fact]
    public void Calls_start_at_the_named_function_take_the_next_ones_wrapping_and_have_deterministic_ids()
    {
        var named = ToolRequest(42, new ToolChoice(ToolChoiceMode.Function, "get_route"), calls: 4);
        var calls = SimBackend.ExpectedToolCalls(named);
        Assert.Equal(["get_route", "get_weather", "place_order", "get_route"], calls.Select(c => c.Name));
        Assert.All(calls, c => Assert.Matches("^call_[0-9A-Za-z]{24}$", c.Id));
        Assert.Equal(4, calls.Select(c => c.Id).Distinct().Count());
        Assert.Equal(calls, SimBackend.ExpectedToolCalls(ToolRequest(42, new ToolChoice(ToolChoiceMode.Function, "get_route"), calls: 4)));
        Assert.NotEqual(calls[0].Id, SimBackend.ExpectedToolCalls(ToolRequest(43, new ToolChoice(ToolChoiceMode.Function, "get_route"), calls: 4))[0].Id);

        var single = ToolRequest(42, ToolChoice.Required, calls: 4, parallel: false);
        Assert.Equal(["get_weather"], SimBackend.ExpectedToolCalls(single).Select(c => c.Name));
    }

    [Theory]
    [InlineData(ToolChoiceMode.Auto)]
    [InlineData(ToolChoiceMode.None)]
    public async Task Without_forced_tools_sim_answers_with_its_usual_text(ToolChoiceMode mode)
    {
        var sim = new SimBackend(TimeProvider.System);
        var request = ToolRequest(9, new ToolChoice(mode), calls: 2);
        Assert.Empty(SimBackend.ExpectedToolCalls(request));
        var bytes = new List<byte>();
        await foreach (var piece in sim.GenerateAsync(request, CancellationToken.None).Take(20))
        {
            Assert.Equal(DeltaChannel.Content, piece.Channel);
            bytes.AddRange(piece.Utf8.ToArray());
        }

        Assert.Equal(SimBackend.ExpectedBytes(9, 20), bytes.ToArray());
    }

    [Theory]
    [MemberData(nameof(Schemas))]
    public async Task A_json_schema_response_format_gives_content_that_validates(string schemaText)
    {
        var sim = new SimBackend(TimeProvider.System);
        var schema = JsonSchema.FromText(schemaText);
        for (var seed = 0L; seed < 40; seed++)
        {
            var request = new BackendRequest
            {
                Model = SimBackend.ModelId,
                Prompt = "json please",
                Seed = seed,
                ResponseFormat = new ResponseFormat(ResponseFormatKind.JsonSchema, Parse(schemaText), "answer", true),
            };
            var bytes = new List<byte>();
            await foreach (var piece in sim.GenerateAsync(request, CancellationToken.None))
            {
                Assert.Equal(DeltaChannel.Content, piece.Channel);
                bytes.AddRange(piece.Utf8.ToArray());
            }

            var text = Encoding.UTF8.GetString([.. bytes]);
            Assert.Equal(SimBackend.ExpectedJson(request), text);
            AssertValid(schema, text);
        }
    }

    [Fact]
    public void A_json_object_response_format_gives_a_json_object()
    {
        for (var seed = 0L; seed < 100; seed++)
        {
            var json = SimBackend.ExpectedJson(new BackendRequest { Model = SimBackend.ModelId, Prompt = "x", Seed = seed, ResponseFormat = new ResponseFormat(ResponseFormatKind.JsonObject) });
            Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(json!).RootElement.ValueKind);
        }

        Assert.Null(SimBackend.ExpectedJson(new BackendRequest { Model = SimBackend.ModelId, Prompt = "x", Seed = 1 }));
    }

    [Fact]
    public async Task Through_the_runner_the_log_holds_whole_character_fragments_per_call_and_ends_with_tool_calls()
    {
        var time = new FakeTimeProvider();
        using var store = TestStore.Create(time);
        var runner = new GenerationRunner(store, time, NullLogger<GenerationRunner>.Instance);
        var model = new ModelEntry(SimBackend.ModelId, "tokenflow", new SimBackend(time));
        for (var seed = 0L; seed < 30; seed++)
        {
            var request = ToolRequest(seed, ToolChoice.Required, calls: 2);
            var expected = SimBackend.ExpectedToolCalls(request);
            var start = await runner.StartAsync(model, request, new GenerationOptions { MaxTokens = 64 }, CancellationToken.None);
            var (_, reader) = await store.OpenReaderAsync(start.StreamId!, 0, CancellationToken.None);
            var arguments = new Dictionary<int, StringBuilder>();
            var ids = new Dictionary<int, (string?, string?)>();
            FinishReason finish = default;
            await using (reader!)
            {
                using var cts = new CancellationTokenSource(Timeout);
                while (await reader!.WaitToReadAsync(cts.Token))
                {
                    while (reader.TryRead(out var e))
                    {
                        if (e.Kind == StreamEventKind.Delta)
                        {
                            Assert.Equal(DeltaChannel.ToolCall, e.Channel);
                            Assert.True(Utf8.IsValid(e.Text.Span));
                            if (e.ToolCallId is not null)
                            {
                                ids.Add(e.ToolCallIndex, (e.ToolCallId, e.ToolName));
                            }

                            Assert.True(ids.ContainsKey(e.ToolCallIndex), "a fragment came before its call's start");
                            (arguments.TryGetValue(e.ToolCallIndex, out var sb) ? sb : arguments[e.ToolCallIndex] = new StringBuilder()).Append(Encoding.UTF8.GetString(e.Text.Span));
                        }
                        else if (e.Kind == StreamEventKind.Done)
                        {
                            finish = e.FinishReason;
                        }
                    }
                }
            }

            Assert.Equal(FinishReason.ToolCalls, finish);
            Assert.Equal(expected.Select(c => (c.Id, c.Name)), ids.OrderBy(p => p.Key).Select(p => (p.Value.Item1!, p.Value.Item2!)));
            Assert.Equal(expected.Select(c => c.Arguments), arguments.OrderBy(p => p.Key).Select(p => p.Value.ToString()));
        }
    }

    private static BackendRequest ToolRequest(long seed, ToolChoice choice, int calls, bool parallel = true) => new()
    {
        Model = SimBackend.ModelId,
        Messages = [new ChatMessage("user", "What is the weather in Zürich?")],
        Seed = seed,
        Tools =
        [
            new ToolDefinition("get_weather", "Weather for a city", Parse(SimSchemas.Weather)),
            new ToolDefinition("place_order", null, Parse(SimSchemas.Order), Strict: true),
            new ToolDefinition("get_route", null, Parse(SimSchemas.Refs)),
        ],
        ToolChoice = choice,
        SimToolCalls = calls,
        ParallelToolCalls = parallel,
    };

    private static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement.Clone();

    private static void AssertValid(JsonSchema schema, string json)
    {
        var result = schema.Evaluate(JsonNode.Parse(json), Validation);
        Assert.True(result.IsValid, $"{json} does not validate: {string.Join("; ", (result.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}")))}");
    }
}
