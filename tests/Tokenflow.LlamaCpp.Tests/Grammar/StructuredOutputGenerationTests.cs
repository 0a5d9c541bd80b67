using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Streams;
using Tokenflow.LlamaCpp.Tests.Backend;

namespace Tokenflow.LlamaCpp.Tests.Grammar;

/// <summary>The embedded model's constrained output through the generation pipeline and the memory store, as every door reads it.</summary>
public sealed class StructuredOutputGenerationTests(TinyModelFixture model) : IClassFixture<TinyModelFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private const string Parameters = """
        {"type":"object","properties":{"city":{"type":"string","maxLength":10},"days":{"type":"integer","minimum":1,"maximum":7}},"required":["city","days"],"additionalProperties":false}
        """;

    [Fact]
    public async Task A_forced_tool_call_is_logged_as_tool_call_fragments_with_finish_reason_tool_calls()
    {
        using var parameters = JsonDocument.Parse(Parameters);
        var request = new BackendRequest
        {
            Model = "tokenflow-tiny",
            Messages = [new ChatMessage("user", "How warm will it be in Bethel?")],
            MaxTokens = 100,
            Temperature = 0.8f,
            Seed = 11,
            Tools = [new ToolDefinition("forecast", "The forecast.", parameters.RootElement.Clone(), Strict: true)],
            ToolChoice = new ToolChoice(ToolChoiceMode.Function, "forecast"),
        };

        var (events, output) = await RunAsync(request, maxTokens: 100);

        var deltas = events.Where(e => e.Kind == StreamEventKind.Delta).ToList();
        Assert.NotEmpty(deltas);
        Assert.All(deltas, e => Assert.Equal(DeltaChannel.ToolCall, e.Channel));
        Assert.Equal("forecast", deltas[0].ToolName);
        Assert.Equal(1, deltas.Count(e => e.ToolCallId is not null));
        var call = Assert.Single(output.ToolCalls);
        Assert.StartsWith("call_", call.Id, StringComparison.Ordinal);
        Assert.True(JsonSchema.FromText(Parameters).Evaluate(JsonNode.Parse(call.ArgumentsText)).IsValid, call.ArgumentsText);
        Assert.Equal(0, output.Content.Length);
        Assert.Equal(StreamEventKind.Done, output.Final.Kind);
        Assert.Equal(FinishReason.ToolCalls, output.Final.FinishReason);
        Assert.Equal(request.CompletionTokens, output.Final.Usage!.CompletionTokens);
        Assert.True(output.Final.Usage.CompletionTokens > deltas.Count);
    }

    [Fact]
    public async Task Json_schema_output_is_logged_as_content_with_finish_reason_stop()
    {
        using var schema = JsonDocument.Parse(Parameters);
        var request = new BackendRequest
        {
            Model = "tokenflow-tiny",
            Prompt = "The forecast:",
            MaxTokens = 100,
            Temperature = 1,
            Seed = 3,
            ResponseFormat = new ResponseFormat(ResponseFormatKind.JsonSchema, schema.RootElement.Clone(), "forecast", Strict: true),
        };

        var (_, output) = await RunAsync(request, maxTokens: 100);

        var text = Encoding.UTF8.GetString(output.Content);
        Assert.True(JsonSchema.FromText(Parameters).Evaluate(JsonNode.Parse(text)).IsValid, text);
        Assert.Equal(FinishReason.Stop, output.Final.FinishReason);
    }

    private async Task<(List<StreamEvent> Events, StreamOutput Output)> RunAsync(BackendRequest request, int maxTokens)
    {
        using var store = new MemoryStreamStore(Options.Create(new StreamStoreOptions()), TimeProvider.System);
        var runner = new GenerationRunner(store, TimeProvider.System, NullLogger<GenerationRunner>.Instance);
        var start = await runner.StartAsync(new ModelEntry("tokenflow-tiny", "tokenflow", model.Backend), request, new GenerationOptions { MaxTokens = maxTokens }, CancellationToken.None);
        Assert.Equal(StreamCreateStatus.Created, start.Status);

        using var cts = new CancellationTokenSource(Timeout);
        var (status, reader) = await store.OpenReaderAsync(start.StreamId!, 0, cts.Token);
        Assert.Equal(StreamOpenStatus.Opened, status);
        await using var _ = reader!;
        var events = new List<StreamEvent>();
        var output = new StreamOutput();
        while (await reader!.WaitToReadAsync(cts.Token))
        {
            while (reader.TryRead(out var item))
            {
                events.Add(item);
                output.Add(item);
            }
        }

        Assert.True(output.Final.IsTerminal);
        return (events, output);
    }
}
