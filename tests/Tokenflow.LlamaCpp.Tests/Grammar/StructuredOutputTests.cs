using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Streams;
using Tokenflow.LlamaCpp.Tests.Backend;
using Xunit.Abstractions;

namespace Tokenflow.LlamaCpp.Tests.Grammar;

/// <summary>Grammar-constrained output on the embedded model, checked with a JSON Schema validator.</summary>
public sealed class StructuredOutputTests(TinyModelFixture model, ITestOutputHelper output) : IClassFixture<TinyModelFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    // A few fields of every kind, bounded so that a model that never closes a string still finishes.
    private const string PersonSchema = """
        {"type":"object","properties":{
          "name":{"type":"string","maxLength":12},
          "age":{"type":"integer","minimum":0,"maximum":120},
          "tribe":{"type":"string","enum":["Judah","Levi","Dan"]},
          "faithful":{"type":"boolean"},
          "verses":{"type":"array","items":{"type":"integer","minimum":1,"maximum":176},"maxItems":3},
          "note":{"type":["string","null"],"maxLength":8}},
         "required":["name","age","tribe","faithful","verses"],
         "additionalProperties":false}
        """;

    private const string WeatherParameters = """
        {"type":"object","properties":{
          "city":{"type":"string","minLength":1,"maxLength":16},
          "unit":{"type":"string","enum":["celsius","fahrenheit"]},
          "days":{"type":"integer","minimum":1,"maximum":7}},
         "required":["city","unit"],"additionalProperties":false}
        """;

    private const string SearchParameters = """
        {"type":"object","properties":{"query":{"type":"string","maxLength":10},"limit":{"type":"integer","minimum":1,"maximum":20}},"required":["query","limit"]}
        """;

    [Fact]
    public async Task Json_schema_output_validates_against_the_schema_for_20_seeds()
    {
        var schema = JsonSchema.FromText(PersonSchema);
        using var document = JsonDocument.Parse(PersonSchema);
        var outputs = await Task.WhenAll(Enumerable.Range(1, 20).Select(async seed =>
        {
            var request = new BackendRequest
            {
                Model = "tiny",
                Messages = [new ChatMessage("user", "Describe a man of Israel.")],
                MaxTokens = 200,
                Temperature = 1,
                Seed = seed,
                ResponseFormat = new ResponseFormat(ResponseFormatKind.JsonSchema, document.RootElement.Clone(), "person", Strict: true),
            };
            return (Seed: seed, Result: await GenerateAsync(request));
        }));

        foreach (var (seed, result) in outputs)
        {
            output.WriteLine($"seed {seed}: {result.Text}");
            Assert.True(result.Pieces.All(p => p.Channel == DeltaChannel.Content), $"seed {seed}");
            var json = JsonNode.Parse(result.Text);
            var evaluation = schema.Evaluate(json, new EvaluationOptions { OutputFormat = OutputFormat.List });
            Assert.True(evaluation.IsValid, $"seed {seed}: {result.Text} — {string.Join("; ", evaluation.Details.Where(d => d.HasErrors).SelectMany(d => d.Errors!.Values))}");
            Assert.InRange(result.Pieces.Count, 1, 199);
        }

        // Sampling at temperature 1 really varies inside the grammar.
        Assert.True(outputs.Select(o => o.Result.Text).Distinct().Count() > 10);
    }

    [Fact]
    public async Task Json_object_output_is_an_object_or_when_cut_a_prefix_of_one()
    {
        var request = new BackendRequest
        {
            Model = "tiny",
            Prompt = "And the LORD said",
            MaxTokens = 60,
            Temperature = 0,
            ResponseFormat = new ResponseFormat(ResponseFormatKind.JsonObject),
        };

        var result = await GenerateAsync(request);
        output.WriteLine(result.Text);

        var complete = result.Pieces.Count < request.MaxTokens;
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(result.Text), isFinalBlock: complete, state: default);
        Assert.True(reader.Read());
        Assert.Equal(JsonTokenType.StartObject, reader.TokenType);
        while (reader.Read())
        {
            // Throws at the first byte that is not JSON.
        }

        Assert.Equal(complete, reader.CurrentDepth == 0 && reader.TokenType == JsonTokenType.EndObject);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Forced_tool_call_streams_fragments_that_are_the_function_arguments(bool named)
    {
        var schemas = new Dictionary<string, JsonSchema>
        {
            ["get_weather"] = JsonSchema.FromText(WeatherParameters),
            ["search"] = JsonSchema.FromText(SearchParameters),
        };
        var seen = new HashSet<string>();
        for (var seed = 1; seed <= 4; seed++)
        {
            var request = new BackendRequest
            {
                Model = "tiny",
                Messages = [new ChatMessage("user", "What is the weather in Jerusalem?")],
                MaxTokens = 120,
                Temperature = 1,
                Seed = seed,
                Tools = [Tool("get_weather", WeatherParameters), Tool("search", SearchParameters)],
                ToolChoice = named ? new ToolChoice(ToolChoiceMode.Function, "search") : ToolChoice.Required,
            };

            var result = await GenerateAsync(request);

            Assert.All(result.Pieces, p => Assert.Equal(DeltaChannel.ToolCall, p.Channel));
            var start = result.Pieces[0];
            Assert.NotNull(start.ToolCallId);
            Assert.StartsWith("call_", start.ToolCallId, StringComparison.Ordinal);
            Assert.NotNull(start.ToolName);
            Assert.All(result.Pieces.Skip(1), p => Assert.Null(p.ToolCallId));
            Assert.All(result.Pieces, p => Assert.Equal(0, p.ToolCallIndex));
            if (named)
            {
                Assert.Equal("search", start.ToolName);
            }

            seen.Add(start.ToolName);
            var arguments = result.Text;
            output.WriteLine($"seed {seed}: {start.ToolName}({arguments}) in {request.CompletionTokens} tokens");
            var evaluation = schemas[start.ToolName].Evaluate(JsonNode.Parse(arguments));
            Assert.True(evaluation.IsValid, $"seed {seed}: {arguments}");
            Assert.Equal(FinishReason.ToolCalls, request.FinishReason);
            Assert.True(request.CompletionTokens > result.Pieces.Count, "the wrapper's tokens count too");
        }

        Assert.NotEmpty(seen);
    }

    [Fact]
    public async Task Tool_call_cut_by_max_tokens_ends_with_length()
    {
        var request = new BackendRequest
        {
            Model = "tiny",
            Prompt = "Call it",
            MaxTokens = 12,
            Temperature = 0,
            Tools = [Tool("get_weather", WeatherParameters)],
            ToolChoice = ToolChoice.Required,
        };

        await GenerateAsync(request);

        Assert.Equal(FinishReason.Length, request.FinishReason);
        Assert.Equal(12, request.CompletionTokens);
    }

    [Fact]
    public async Task Tool_choice_auto_answers_with_text()
    {
        var request = new BackendRequest
        {
            Model = "tiny",
            Prompt = "In the beginning",
            MaxTokens = 8,
            Temperature = 0,
            Tools = [Tool("get_weather", WeatherParameters)],
            ToolChoice = ToolChoice.Auto,
        };

        var result = await GenerateAsync(request);

        Assert.All(result.Pieces, p => Assert.Equal(DeltaChannel.Content, p.Channel));
        Assert.Equal(FinishReason.None, request.FinishReason);
    }

    [Fact]
    public async Task Unsupported_schema_keyword_fails_with_a_400_naming_it()
    {
        using var schema = JsonDocument.Parse("""{"type":"object","properties":{"zip":{"type":"string","pattern":"^[0-9]{5}$"}}}""");
        var request = new BackendRequest
        {
            Model = "tiny",
            Prompt = "x",
            ResponseFormat = new ResponseFormat(ResponseFormatKind.JsonSchema, schema.RootElement.Clone()),
        };

        var error = await Assert.ThrowsAsync<ModelBackendException>(() => GenerateAsync(request));

        Assert.Equal(400, error.Error.Status);
        Assert.Equal("invalid_request_error", error.Error.Type);
        Assert.Equal("unsupported_schema", error.Error.Code);
        Assert.Contains("'response_format.json_schema.schema' uses unsupported keyword 'pattern'", error.Error.Message);
        Assert.Equal(0, model.Backend.ActiveSequenceCount);
    }

    [Fact]
    public async Task Schema_that_llama_cpp_rejects_fails_with_a_400_instead_of_crashing()
    {
        using var schema = JsonDocument.Parse("""{"anyOf":[{"$ref":"#"},{"type":"null"}]}""");
        var request = new BackendRequest
        {
            Model = "tiny",
            Prompt = "x",
            ResponseFormat = new ResponseFormat(ResponseFormatKind.JsonSchema, schema.RootElement.Clone()),
        };

        var error = await Assert.ThrowsAsync<ModelBackendException>(() => GenerateAsync(request));

        Assert.Equal(400, error.Error.Status);
        Assert.Equal("unsupported_schema", error.Error.Code);
    }

    private static ToolDefinition Tool(string name, string parameters)
    {
        using var document = JsonDocument.Parse(parameters);
        return new ToolDefinition(name, "A function.", document.RootElement.Clone(), Strict: true);
    }

    private async Task<(string Text, List<PieceCopy> Pieces)> GenerateAsync(BackendRequest request)
    {
        using var cts = new CancellationTokenSource(Timeout);
        var bytes = new List<byte>();
        var pieces = new List<PieceCopy>();
        await foreach (var piece in model.Backend.GenerateAsync(request, cts.Token))
        {
            bytes.AddRange(piece.Utf8.Span);
            pieces.Add(new PieceCopy(piece.Channel, piece.ToolCallIndex, piece.ToolCallId, piece.ToolName));
        }

        return (Encoding.UTF8.GetString([.. bytes]), pieces);
    }

    private sealed record PieceCopy(DeltaChannel Channel, int ToolCallIndex, string? ToolCallId, string? ToolName);
}
