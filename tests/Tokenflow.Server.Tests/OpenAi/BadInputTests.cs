using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Tokenflow.Core.Backends;

namespace Tokenflow.Server.Tests.OpenAi;

public sealed class BadInputTests
{
    private static async Task<(HttpStatusCode Status, JsonElement Error)> PostRawAsync(TestServer server, string body, string path = "/v1/chat/completions")
    {
        using var response = await server.Client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (response.StatusCode, json.GetProperty("error"));
    }

    [Theory]
    [InlineData("{\"model\":\"sim\",", 400, null)]
    [InlineData("not json", 400, null)]
    [InlineData("[]", 400, null)]
    [InlineData("{\"model\":\"sim\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":\"ten\"}", 400, "max_tokens")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", 400, "model")]
    [InlineData("{\"model\":\"sim\"}", 400, "messages")]
    [InlineData("{\"model\":\"sim\",\"messages\":[]}", 400, "messages")]
    [InlineData("{\"model\":\"sim\",\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}", 400, "messages[0].role")]
    [InlineData("{\"model\":\"sim\",\"messages\":[{\"role\":\"user\",\"content\":42}]}", 400, "messages[0].content")]
    [InlineData("{\"model\":\"sim\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":0}", 400, "max_tokens")]
    [InlineData("{\"model\":\"sim\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2000000000}", 400, "max_tokens")]
    [InlineData("{\"model\":\"sim\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_completion_tokens\":-5}", 400, "max_completion_tokens")]
    [InlineData("{\"model\":\"sim\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":3}", 400, "temperature")]
    [InlineData("{\"model\":\"sim\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"top_p\":0}", 400, "top_p")]
    [InlineData("{\"model\":\"sim\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"n\":2}", 400, "n")]
    [InlineData("{\"model\":\"sim\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", 400, "stop")]
    [InlineData("{\"model\":\"sim\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stop\":7}", 400, "stop")]
    [InlineData("{\"model\":\"sim\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"resume_grace_ms\":-1}", 400, "resume_grace_ms")]
    [InlineData("{\"model\":\"no-such-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", 404, "model")]
    public async Task Bad_requests_get_an_openai_error_with_the_right_status(string body, int status, string? param)
    {
        await using var server = await TestServer.StartAsync();
        var (code, error) = await PostRawAsync(server, body);

        Assert.Equal((HttpStatusCode)status, code);
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        if (param is not null)
        {
            Assert.Equal(param, error.GetProperty("param").GetString());
        }

        // The server stays healthy.
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/v1/models")).StatusCode);
    }

    [Fact]
    public async Task Unknown_model_has_code_model_not_found()
    {
        await using var server = await TestServer.StartAsync();
        var (code, error) = await PostRawAsync(server, "{\"model\":\"gpt-17\",\"prompt\":\"hi\"}", "/v1/completions");
        Assert.Equal(HttpStatusCode.NotFound, code);
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task An_oversize_body_gets_413_and_the_server_stays_healthy()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:MaxRequestBodyBytes", "4096"]);
        var big = "{\"model\":\"sim\",\"messages\":[{\"role\":\"user\",\"content\":\"" + new string('x', 10_000) + "\"}]}";
        var (code, error) = await PostRawAsync(server, big);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, code);
        Assert.Equal("request_too_large", error.GetProperty("code").GetString());

        // Chunked (no Content-Length) bodies are cut off at the limit too.
        using var chunked = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new PushStreamContentLike(Encoding.UTF8.GetBytes(big)) };
        using var chunkedResponse = await server.Client.SendAsync(chunked);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, chunkedResponse.StatusCode);

        var ok = await server.Client.PostAsync("/v1/chat/completions", new StringContent("{\"model\":\"sim\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task Unknown_routes_get_a_json_404()
    {
        await using var server = await TestServer.StartAsync();
        using var response = await server.Client.GetAsync("/v1/nothing-here");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("not_found", json.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_backend_failure_mid_stream_ends_with_an_error_event_after_the_text_so_far()
    {
        await using var server = await TestServer.StartAsync(configure: b => b.Services.AddSingleton(new ModelEntry("broken", "test", new FailingBackend())));
        var (response, events) = await ChatCompletionsStreamingTests.StreamAsync(server, new { model = "broken", messages = new[] { new { role = "user", content = "hi" } }, stream = true });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(" one two three", string.Concat(events.Select(e => e.Text)));
        var last = events[^1];
        Assert.Equal("error", last.EventType);
        Assert.Equal("backend_failed", last.Json.GetProperty("error").GetProperty("code").GetString());
        Assert.DoesNotContain(events, e => e.Data == "[DONE]");
        Assert.Equal("4", last.Id);
    }

    [Fact]
    public async Task A_backend_failure_without_streaming_is_a_500_error_object()
    {
        await using var server = await TestServer.StartAsync(configure: b => b.Services.AddSingleton(new ModelEntry("broken", "test", new FailingBackend())));
        var (code, error) = await PostRawAsync(server, "{\"model\":\"broken\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        Assert.Equal(HttpStatusCode.InternalServerError, code);
        Assert.Equal("server_error", error.GetProperty("type").GetString());
        Assert.DoesNotContain("   at ", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_full_store_answers_503()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:Streams:MaxRunningStreams", "1"]);
        using var first = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = ChatCompletionsStreamingTests.Body(new { model = "sim", messages = new[] { new { role = "user", content = "hi" } }, stream = true, max_tokens = 100_000, sim_tokens_per_second = 20 }),
        };
        using var running = await server.Client.SendAsync(first, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, running.StatusCode);

        var (code, error) = await PostRawAsync(server, "{\"model\":\"sim\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, code);
        Assert.Equal("overloaded", error.GetProperty("code").GetString());
    }

    /// <summary>Three tokens, then an exception.</summary>
    private sealed class FailingBackend : IModelBackend
    {
        public async IAsyncEnumerable<TokenPiece> GenerateAsync(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            foreach (var word in new[] { " one", " two", " three" })
            {
                await Task.Yield();
                yield return new TokenPiece(Encoding.UTF8.GetBytes(word));
            }

            throw new InvalidOperationException("simulated backend crash");
        }
    }

    /// <summary>Content without a known length, so it is sent chunked.</summary>
    private sealed class PushStreamContentLike(byte[] bytes) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) => stream.WriteAsync(bytes).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }
    }
}
