using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Tokenflow.Core.Backends;

namespace Tokenflow.Server.Tests.OpenAi;

/// <summary>
/// Every channel of the log reaches the OpenAI door as OpenAI renders it: reasoning as
/// <c>delta.reasoning_content</c>, tool calls as <c>delta.tool_calls</c> fragments whose concatenation
/// is the non-streamed <c>message.tool_calls</c>, refusals as <c>delta.refusal</c>; and the same events
/// replay identically from <c>/v1/streams/{id}/events</c>.
/// </summary>
public sealed class AgentContentRenderingTests
{
    private static readonly object Request = new { model = "scripted", messages = new[] { new { role = "user", content = "weather?" } } };

    private static Task<TestServer> StartAsync()
        => TestServer.StartAsync(configure: b => b.Services.AddSingleton(new ModelEntry("scripted", "test", new ScriptedBackend())));

    [Fact]
    public async Task Streamed_channels_render_as_openai_chunks_and_concatenate_to_the_non_streamed_message()
    {
        await using var server = await StartAsync();
        var (response, events) = await ChatCompletionsStreamingTests.StreamAsync(server, new { model = "scripted", messages = new[] { new { role = "user", content = "weather?" } }, stream = true });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var chunks = events.Where(e => e.Data != "[DONE]").Select(e => e.Json).ToList();
        var deltas = chunks.Select(c => c.GetProperty("choices")[0].GetProperty("delta")).ToList();

        Assert.Equal("assistant", deltas[0].GetProperty("role").GetString());
        Assert.Equal(ScriptedBackend.Reasoning, string.Concat(deltas.Select(d => d.TryGetProperty("reasoning_content", out var r) ? r.GetString() : "")));
        Assert.Equal(ScriptedBackend.Content, string.Concat(deltas.Select(d => d.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : "")));
        Assert.Equal("no", string.Concat(deltas.Select(d => d.TryGetProperty("refusal", out var r) ? r.GetString() : "")));

        var fragments = deltas.Where(d => d.TryGetProperty("tool_calls", out _)).Select(d => d.GetProperty("tool_calls")[0]).ToList();
        var streamed = fragments.GroupBy(f => f.GetProperty("index").GetInt32()).OrderBy(g => g.Key).Select(g => (
            Index: g.Key,
            Id: g.First().GetProperty("id").GetString(),
            Type: g.First().GetProperty("type").GetString(),
            Name: g.First().GetProperty("function").GetProperty("name").GetString(),
            Arguments: string.Concat(g.Select(f => f.GetProperty("function").GetProperty("arguments").GetString())))).ToList();
        Assert.Equal([(0, "call_1", "function", "get_weather", ScriptedBackend.FirstArguments), (1, "call_2", "function", "get_time", "{}")], streamed);
        Assert.All(fragments.Where(f => !f.TryGetProperty("id", out _)), f => Assert.False(f.GetProperty("function").TryGetProperty("name", out _)));
        Assert.Equal("tool_calls", chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());

        using var complete = await server.Client.PostAsJsonAsync("/v1/chat/completions", Request);
        Assert.Equal(HttpStatusCode.OK, complete.StatusCode);
        var choice = (await complete.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("choices")[0];
        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        var message = choice.GetProperty("message");
        Assert.Equal(ScriptedBackend.Content, message.GetProperty("content").GetString());
        Assert.Equal(ScriptedBackend.Reasoning, message.GetProperty("reasoning_content").GetString());
        Assert.Equal("no", message.GetProperty("refusal").GetString());
        var calls = message.GetProperty("tool_calls").EnumerateArray().Select((c, i) => (
            Index: i,
            Id: c.GetProperty("id").GetString(),
            Type: c.GetProperty("type").GetString(),
            Name: c.GetProperty("function").GetProperty("name").GetString(),
            Arguments: c.GetProperty("function").GetProperty("arguments").GetString()!)).ToList();
        Assert.Equal(streamed, calls);
    }

    [Fact]
    public async Task A_replay_of_a_stream_with_tool_calls_is_byte_identical_to_the_original_response()
    {
        await using var server = await StartAsync();
        var response = await server.Client.PostAsync("/v1/chat/completions", ChatCompletionsStreamingTests.Body(new { model = "scripted", messages = new[] { new { role = "user", content = "weather?" } }, stream = true }));
        var original = await response.Content.ReadAsStringAsync();
        var id = response.Headers.GetValues("X-Stream-Id").Single();

        var replay = await server.Client.GetStringAsync($"/v1/streams/{id}/events?after=0");
        Assert.Contains("\"tool_calls\"", original);
        Assert.Equal(original, replay);
    }

    /// <summary>Reasoning, then content, two tool calls (the first's arguments split inside a character), a refusal.</summary>
    private sealed class ScriptedBackend : IModelBackend
    {
        public const string Reasoning = "The user wants Zürich's weather.";
        public const string Content = "Let me check.";
        public const string FirstArguments = "{\"city\":\"Zürich\",\"unit\":\"c\"}";

        public async IAsyncEnumerable<TokenPiece> GenerateAsync(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.Yield();
            request.PromptTokens = 3;
            foreach (var piece in Split(Reasoning, 5))
            {
                yield return TokenPiece.Reasoning(piece);
            }

            yield return new TokenPiece(Encoding.UTF8.GetBytes(Content));
            var arguments = Split(FirstArguments, 3).ToList();
            yield return TokenPiece.ToolCallStart(0, "call_1", "get_weather", arguments[0]);
            foreach (var piece in arguments.Skip(1))
            {
                yield return TokenPiece.ToolCallArguments(0, piece);
            }

            yield return TokenPiece.ToolCallStart(1, "call_2", "get_time", ReadOnlyMemory<byte>.Empty);
            yield return TokenPiece.ToolCallArguments(1, "{}"u8.ToArray());
            yield return TokenPiece.Refusal("no"u8.ToArray());
        }

        // Byte pieces of a fixed size, so multi-byte characters are cut between pieces.
        private static IEnumerable<byte[]> Split(string text, int size)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            for (var i = 0; i < bytes.Length; i += size)
            {
                yield return bytes[i..Math.Min(bytes.Length, i + size)];
            }
        }
    }
}
