using System.Net;
using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using Tokenflow.Core.Sim;

namespace Tokenflow.Server.Tests.Durable;

public sealed class DurableStreamEndpointsTests
{
    private static StringContent Chat(int maxTokens, int seed, double tokensPerSecond = 0) => new(
        JsonSerializer.Serialize(new
        {
            model = "sim",
            messages = new[] { new { role = "user", content = "hi" } },
            stream = true,
            max_tokens = maxTokens,
            seed,
            sim_tokens_per_second = tokensPerSecond,
            resume_grace_ms = 10_000,
        }),
        Encoding.UTF8,
        "application/json");

    /// <summary>Starts a streaming chat completion and returns its stream id and the SSE text it carries.</summary>
    private static async Task<(string Id, Task<string> Text)> StartAsync(TestServer server, int maxTokens, int seed, double tokensPerSecond = 0)
    {
        var response = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Chat(maxTokens, seed, tokensPerSecond) }, HttpCompletionOption.ResponseHeadersRead);
        var id = response.Headers.GetValues("X-Stream-Id").Single();
        return (id, ReadTextAsync(response));

        static async Task<string> ReadTextAsync(HttpResponseMessage response)
        {
            var events = await SseEvent.ReadAllAsync(await response.Content.ReadAsStreamAsync());
            response.Dispose();
            return string.Concat(events.Select(e => e.Text));
        }
    }

    private static string Text(JsonElement messages)
        => string.Concat(messages.EnumerateArray().Where(m => m.GetProperty("type").GetString() == "delta").Select(m => m.GetProperty("text").GetString()));

    [Fact]
    public async Task Generation_read_as_durable_json_carries_the_chat_sse_text_and_ends_closed()
    {
        await using var server = await TestServer.StartAsync();
        var (id, sseText) = await StartAsync(server, 40, 5);
        var expected = await sseText;

        using var response = await server.Client.GetAsync($"/v1/durable/{id}?offset=-1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("true", response.Headers.GetValues("Stream-Closed").Single());
        var messages = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(expected, Text(messages));
        Assert.Equal(SimBackend.ExpectedText(5, 40), expected);
        var last = messages[messages.GetArrayLength() - 1];
        Assert.Equal("done", last.GetProperty("type").GetString());
        Assert.Equal("length", last.GetProperty("finish_reason").GetString());
        Assert.Equal(Enumerable.Range(1, messages.GetArrayLength()), messages.EnumerateArray().Select(m => m.GetProperty("seq").GetInt32()));

        using var post = await server.Client.PostAsync($"/v1/durable/{id}", new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
    }

    [Fact]
    public async Task Resume_from_a_saved_offset_returns_only_later_events()
    {
        await using var server = await TestServer.StartAsync();
        var (id, sseText) = await StartAsync(server, 30, 8);
        var expected = await sseText;

        using var all = await server.Client.GetAsync($"/v1/durable/{id}");
        var messages = JsonDocument.Parse(await all.Content.ReadAsStringAsync()).RootElement;
        var splitText = string.Concat(messages.EnumerateArray().Take(10).Where(m => m.GetProperty("type").GetString() == "delta").Select(m => m.GetProperty("text").GetString()));

        // Offsets are opaque but sort like seq: the offset after ten events sorts before the tail.
        using var head = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v1/durable/{id}"));
        var tail = head.Headers.GetValues("Stream-Next-Offset").Single();
        Assert.Equal(tail, all.Headers.GetValues("Stream-Next-Offset").Single());

        var saved = "0000000000000000_0000000000000010";
        Assert.True(string.CompareOrdinal(saved, tail) < 0);
        using var rest = await server.Client.GetAsync($"/v1/durable/{id}?offset={saved}");
        var later = JsonDocument.Parse(await rest.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(11, later[0].GetProperty("seq").GetInt32());
        Assert.Equal(expected, splitText + Text(later));
        Assert.Equal(tail, rest.Headers.GetValues("Stream-Next-Offset").Single());
    }

    [Fact]
    public async Task Live_sse_follows_a_running_generation_until_it_closes()
    {
        await using var server = await TestServer.StartAsync();
        var (id, sseText) = await StartAsync(server, 40, 11, tokensPerSecond: 50);

        using var response = await server.Client.GetAsync($"/v1/durable/{id}?offset=-1&live=sse", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var text = new StringBuilder();
        var closed = false;
        var controls = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync(timeout.Token)).EnumerateAsync(timeout.Token))
        {
            using var json = JsonDocument.Parse(item.Data);
            if (item.EventType == "data")
            {
                text.Append(Text(json.RootElement));
            }
            else if (item.EventType == "control")
            {
                controls++;
                closed = json.RootElement.TryGetProperty("streamClosed", out var c) && c.GetBoolean();
            }
        }

        Assert.True(closed);
        Assert.True(controls > 1, "expected the SSE response to follow the generation live");
        Assert.Equal(await sseText, text.ToString());
    }

    [Fact]
    public async Task Client_streams_support_json_mode_long_poll_closure_and_etags()
    {
        await using var server = await TestServer.StartAsync();
        var client = server.Client;
        using var create = await client.PutAsync("/v1/durable/agents/plan-1", new StringContent("[{\"step\":1}]", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, create.StatusCode);
        var offset = create.Headers.GetValues("Stream-Next-Offset").Single();

        var poll = client.GetAsync($"/v1/durable/agents/plan-1?offset={offset}&live=long-poll");
        using (var append = await client.PostAsync("/v1/durable/agents/plan-1", new StringContent("[{\"step\":2},{\"step\":3}]", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.NoContent, append.StatusCode);
        }

        using var polled = await poll;
        Assert.Equal(HttpStatusCode.OK, polled.StatusCode);
        Assert.Equal("[{\"step\":2},{\"step\":3}]", await polled.Content.ReadAsStringAsync());

        using var read = await client.GetAsync("/v1/durable/agents/plan-1");
        Assert.Equal("[{\"step\":1},{\"step\":2},{\"step\":3}]", await read.Content.ReadAsStringAsync());
        var conditional = new HttpRequestMessage(HttpMethod.Get, "/v1/durable/agents/plan-1");
        conditional.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Parse(read.Headers.ETag!.ToString()));
        using (var notModified = await client.SendAsync(conditional))
        {
            Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        }

        var close = new HttpRequestMessage(HttpMethod.Post, "/v1/durable/agents/plan-1");
        close.Headers.Add("Stream-Closed", "true");
        using (var closed = await client.SendAsync(close))
        {
            Assert.Equal(HttpStatusCode.NoContent, closed.StatusCode);
        }

        using var rejected = await client.PostAsync("/v1/durable/agents/plan-1", new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Conflict, rejected.StatusCode);
        Assert.Equal("true", rejected.Headers.GetValues("Stream-Closed").Single());
    }

    [Theory]
    [InlineData("a/../b")]
    [InlineData("./a")]
    [InlineData("a//b")]
    [InlineData("__ds/subscriptions/x")]
    [InlineData("a\\b")]
    public void Traversal_empty_and_reserved_paths_are_rejected(string path)
    {
        Assert.False(Server.Durable.DurableStreamEndpoints.IsValidPath(path, 1024));
        Assert.True(Server.Durable.DurableStreamEndpoints.IsValidPath("agents/plan-1", 1024));
    }

    [Fact]
    public async Task Streams_are_visible_only_to_the_key_that_created_them()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:ApiKeys:0", "key-one", "--Tokenflow:ApiKeys:1", "key-two"]);
        HttpRequestMessage As(string key, HttpMethod method, string path, string? body = null)
        {
            var request = new HttpRequestMessage(method, path) { Content = body is null ? null : new StringContent(body, Encoding.UTF8, "text/plain") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            return request;
        }

        using (var created = await server.Client.SendAsync(As("key-one", HttpMethod.Put, "/v1/durable/private/notes", "secret")))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        using (var other = await server.Client.SendAsync(As("key-two", HttpMethod.Get, "/v1/durable/private/notes")))
        {
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        }

        using (var otherAppend = await server.Client.SendAsync(As("key-two", HttpMethod.Post, "/v1/durable/private/notes", "x")))
        {
            Assert.Equal(HttpStatusCode.NotFound, otherAppend.StatusCode);
        }

        using var mine = await server.Client.SendAsync(As("key-one", HttpMethod.Get, "/v1/durable/private/notes"));
        Assert.Equal("secret", await mine.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Oversize_append_is_413()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:Durable:MaxMessageBytes", "1024"]);
        using (var created = await server.Client.PutAsync("/v1/durable/big", new StringContent(string.Empty, Encoding.UTF8, "text/plain")))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        using var append = await server.Client.PostAsync("/v1/durable/big", new StringContent(new string('x', 2048), Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, append.StatusCode);
    }
    [Fact]
    public async Task A_chunked_append_is_read_whole_and_an_oversize_one_is_413_and_changes_nothing()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:Durable:MaxMessageBytes", "1024"]);
        (await server.Client.PutAsync("/v1/durable/chunked", new StringContent(string.Empty, Encoding.UTF8, "text/plain"))).Dispose();

        // No Content-Length: HttpClient sends these bodies chunked, so only the bytes read tell the size.
        static HttpContent Chunked(string text)
        {
            var content = new StreamContent(new UnseekableStream(Encoding.UTF8.GetBytes(text)), 100);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("text/plain");
            return content;
        }

        var fits = string.Concat(Enumerable.Range(0, 100).Select(i => $"{i % 10}abcdefghi"));
        using (var ok = await server.Client.PostAsync("/v1/durable/chunked", Chunked(fits)))
        {
            Assert.Equal(HttpStatusCode.NoContent, ok.StatusCode);
        }

        using (var tooBig = await server.Client.PostAsync("/v1/durable/chunked", Chunked(new string('x', 4096))))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooBig.StatusCode);
        }

        using var read = await server.Client.GetAsync("/v1/durable/chunked?offset=-1");
        Assert.Equal(fits, await read.Content.ReadAsStringAsync());
    }

    /// <summary>A read-only stream without a length, so HttpClient cannot send a Content-Length.</summary>
    private sealed class UnseekableStream(byte[] data) : MemoryStream(data, writable: false)
    {
        public override bool CanSeek => false;
    }
}
