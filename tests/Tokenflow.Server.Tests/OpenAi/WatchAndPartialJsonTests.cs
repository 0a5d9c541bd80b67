using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Sim;

namespace Tokenflow.Server.Tests.OpenAi;

/// <summary>
/// Watches and partial JSON on the OpenAI door: a watch fires as a <c>"choices":[]</c> chunk at the delta that
/// completed it, <c>cancel_on</c> stops the model on that token, <c>partial_json</c> adds the value parsed so
/// far, and clients that asked for neither get exactly the bytes they got before.
/// </summary>
public sealed class WatchAndPartialJsonTests
{
    private const string Answer = """{"verdict":"approve","reason":"The change is small, tested and reversible.","score":9}""";

    private static Task<TestServer> StartAsync(JsonBackend backend)
        => TestServer.StartAsync(configure: b => b.Services.AddSingleton(new ModelEntry("json", "test", backend)));

    private static object Chat(object? extra = null)
    {
        var body = new Dictionary<string, object?> { ["model"] = "json", ["messages"] = new[] { new { role = "user", content = "review" } }, ["stream"] = true, ["stream_options"] = new { include_usage = true } };
        foreach (var property in JsonSerializer.SerializeToElement(extra ?? new { }).EnumerateObject())
        {
            body[property.Name] = property.Value;
        }

        return body;
    }

    [Fact]
    public async Task A_json_path_watch_with_cancel_on_stops_the_model_on_the_token_that_completed_the_field()
    {
        var backend = new JsonBackend(Answer, pieceSize: 3);
        await using var server = await StartAsync(backend);
        var (response, events) = await ChatCompletionsStreamingTests.StreamAsync(server, Chat(new
        {
            watch = new object[] { new { id = "verdict", json_path = "$.verdict", when = "complete" } },
            cancel_on = "verdict",
        }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var chunks = events.Where(e => e.Data != "[DONE]").ToList();

        var watch = Assert.Single(chunks, c => c.Json.TryGetProperty("tokenflow", out var t) && t.TryGetProperty("watch", out _));
        Assert.Equal(0, watch.Json.GetProperty("choices").GetArrayLength());
        var fired = watch.Json.GetProperty("tokenflow").GetProperty("watch");
        Assert.Equal("verdict", fired.GetProperty("watch_id").GetString());
        Assert.Equal("approve", fired.GetProperty("match").GetString());

        // The delta that completed "approve" (its closing quote) is the one the watch names, and the last one.
        var deltas = chunks.Where(c => c.Json.GetProperty("choices").GetArrayLength() > 0 && c.Json.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind == JsonValueKind.Null).ToList();
        var text = string.Concat(deltas.Select(d => d.Text));
        var closing = Answer.IndexOf("approve\"", StringComparison.Ordinal) + "approve\"".Length;
        Assert.Equal((closing + 2) / 3, deltas.Count);
        Assert.Equal(deltas[^1].Id, fired.GetProperty("seq").GetInt64().ToString());
        Assert.Equal(Answer[..text.Length], text);

        var finish = chunks.Single(c => c.Json.GetProperty("choices").GetArrayLength() > 0 && c.Json.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind == JsonValueKind.String);
        Assert.Equal("cancelled", finish.Json.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(deltas.Count, chunks[^1].Json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.True(backend.PiecesTaken <= deltas.Count + 1, $"the backend was asked for {backend.PiecesTaken} pieces, the match came at {deltas.Count}");
    }

    [Fact]
    public async Task Partial_json_adds_the_value_so_far_to_each_chunk_that_changed_it()
    {
        await using var server = await StartAsync(new JsonBackend(Answer, pieceSize: 4));
        var (_, events) = await ChatCompletionsStreamingTests.StreamAsync(server, Chat(new { stream_options = new { include_usage = true, partial_json = true } }));
        var partials = events.Where(e => e.Data != "[DONE]" && e.Json.TryGetProperty("tokenflow", out _))
            .Select(e => JsonNode.Parse(e.Json.GetProperty("tokenflow").GetProperty("partial").GetRawText())!).ToList();

        Assert.True(partials.Count > 5);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Answer), partials[^1]));
        for (var i = 1; i < partials.Count; i++)
        {
            Assert.False(JsonNode.DeepEquals(partials[i - 1], partials[i]), $"chunk {i} repeats the previous value");
        }

        // Every value is consistent with the final one: each string so far is a prefix of the final string.
        Assert.All(partials, p => Assert.StartsWith(p["reason"]?.GetValue<string>() ?? string.Empty, "The change is small, tested and reversible.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Clients_that_ask_for_no_watch_or_partial_json_get_the_same_bytes_as_before()
    {
        await using var server = await TestServer.StartAsync();
        var plain = new { model = "sim", messages = new[] { new { role = "user", content = "hi" } }, stream = true, max_tokens = 30, seed = 5 };
        var watched = new { model = "sim", messages = new[] { new { role = "user", content = "hi" } }, stream = true, max_tokens = 30, seed = 5, watch = new object[] { new { id = "never", regex = "zzz-no-such-text" } } };
        var a = await server.Client.PostAsync("/v1/chat/completions", ChatCompletionsStreamingTests.Body(plain));
        var b = await server.Client.PostAsync("/v1/chat/completions", ChatCompletionsStreamingTests.Body(watched));
        // The two streams may be created in different seconds: "created" is compared apart from the bytes.
        static string Normalized(string text, string id) => System.Text.RegularExpressions.Regex.Replace(text.Replace(id, "ID"), "\"created\":\\d+", "\"created\":0");
        var textA = Normalized(await a.Content.ReadAsStringAsync(), a.Headers.GetValues("X-Stream-Id").Single());
        var textB = Normalized(await b.Content.ReadAsStringAsync(), b.Headers.GetValues("X-Stream-Id").Single());
        Assert.DoesNotContain("tokenflow", textA);
        Assert.Equal(textA, textB);
    }

    [Fact]
    public async Task A_watch_added_to_a_running_stream_fires_on_every_reader()
    {
        await using var server = await TestServer.StartAsync();
        var body = new { model = "sim", messages = new[] { new { role = "user", content = "hi" } }, stream = true, max_tokens = 400, seed = 3, sim_tokens_per_second = 200 };
        using var response = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = ChatCompletionsStreamingTests.Body(body) }, HttpCompletionOption.ResponseHeadersRead);
        var id = response.Headers.GetValues("X-Stream-Id").Single();

        using var added = await server.Client.PostAsJsonAsync($"/v1/streams/{id}/watches", new { id = "w", regex = "agents" });
        Assert.Equal(HttpStatusCode.OK, added.StatusCode);
        Assert.Equal("w", (await added.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("watch_id").GetString());
        using var duplicate = await server.Client.PostAsJsonAsync($"/v1/streams/{id}/watches", new { id = "w", regex = "x" });
        Assert.Equal(HttpStatusCode.BadRequest, duplicate.StatusCode);

        var events = await SseEvent.ReadAllAsync(await response.Content.ReadAsStreamAsync());
        var watch = Assert.Single(events, e => e.Data != "[DONE]" && e.Json.TryGetProperty("tokenflow", out _));
        Assert.Equal("agents", watch.Json.GetProperty("tokenflow").GetProperty("watch").GetProperty("match").GetString());
        var replay = await SseEvent.ReadAllAsync(await server.Client.GetStreamAsync($"/v1/streams/{id}/events"));
        Assert.Equal(events.Select(e => e.Data), replay.Select(e => e.Data));

        using var ended = await server.Client.PostAsJsonAsync($"/v1/streams/{id}/watches", new { id = "late", regex = "x" });
        Assert.Equal(HttpStatusCode.Conflict, ended.StatusCode);
    }

    [Theory]
    [InlineData("""{"watch":{"id":"a","regex":"x"}}""", "watch")]
    [InlineData("""{"watch":[{"regex":"x"}]}""", "watch[0].id")]
    [InlineData("""{"watch":[{"id":"a"}]}""", "watch[0]")]
    [InlineData("""{"watch":[{"id":"a","regex":"x","json_path":"$.a"}]}""", "watch[0]")]
    [InlineData("""{"watch":[{"id":"a","regex":"(unclosed"}]}""", "watch[0].regex")]
    [InlineData("""{"watch":[{"id":"a","json_path":"$.a[*]"}]}""", "watch[0].json_path")]
    [InlineData("""{"watch":[{"id":"a","json_path":"$.a","when":"soon"}]}""", "watch[0].when")]
    [InlineData("""{"watch":[{"id":"a","regex":"x"},{"id":"a","regex":"y"}]}""", "watch[1].id")]
    [InlineData("""{"watch":[{"id":"a","regex":"x"}],"cancel_on":"b"}""", "cancel_on")]
    [InlineData("""{"cancel_on":"b"}""", "cancel_on")]
    public async Task Bad_watches_are_a_400_naming_the_field(string extra, string param)
    {
        await using var server = await TestServer.StartAsync();
        var body = JsonNode.Parse(extra)!.AsObject();
        body["model"] = "sim";
        body["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" });
        using var response = await server.Client.PostAsync("/v1/chat/completions", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(param, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("param").GetString());
    }

    /// <summary>Streams a fixed JSON answer in pieces of a few bytes; counts the pieces it was asked for.</summary>
    private sealed class JsonBackend(string answer, int pieceSize) : IModelBackend
    {
        private int _taken;

        public int PiecesTaken => Volatile.Read(ref _taken);

        public async IAsyncEnumerable<TokenPiece> GenerateAsync(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.Yield();
            var bytes = Encoding.UTF8.GetBytes(answer);
            for (var i = 0; i < bytes.Length; i += pieceSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Interlocked.Increment(ref _taken);
                yield return new TokenPiece(bytes.AsMemory(i, Math.Min(pieceSize, bytes.Length - i)));
            }
        }
    }
}
