using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tokenflow.Server.Tests.OpenAi;

/// <summary>The embedded default model served for real: llama.cpp running tokenflow-tiny in-process.</summary>
public sealed class EmbeddedModelTests
{
    [Fact]
    public async Task The_embedded_model_is_listed_and_streams_a_continuation()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:EmbeddedModel", "true"]);
        var models = await server.Client.GetFromJsonAsync<JsonElement>("/v1/models");
        var ids = models.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()).ToList();
        Assert.Equal(["tokenflow-tiny", "sim"], ids);

        var request = new { model = "tokenflow-tiny", messages = new[] { new { role = "user", content = "In the beginning" } }, stream = true, max_tokens = 24, seed = 5, temperature = 0.8, stream_options = new { include_usage = true } };
        var (response, events) = await ChatCompletionsStreamingTests.StreamAsync(server, request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = string.Concat(events.Select(e => e.Text));
        Assert.False(string.IsNullOrWhiteSpace(text));
        Assert.True(events.Count(e => e.Text.Length > 0) > 3, "tokens should arrive as separate events");
        var usage = events[^2].Json.GetProperty("usage");
        Assert.True(usage.GetProperty("prompt_tokens").GetInt32() > 0);
        Assert.InRange(usage.GetProperty("completion_tokens").GetInt32(), 1, 24);

        // Same seed, same text: streaming and not.
        var whole = await server.Client.PostAsync("/v1/chat/completions", ChatCompletionsStreamingTests.Body(new { request.model, request.messages, request.max_tokens, request.seed, request.temperature }));
        var json = await whole.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(text, json.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }
}
