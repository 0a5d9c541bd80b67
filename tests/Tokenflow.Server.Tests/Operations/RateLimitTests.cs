using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Tokenflow.Server.Tests.Operations;

public sealed class RateLimitTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static StringContent Chat(int maxTokens = 1, bool stream = false, double tokensPerSecond = 0) => new(
        JsonSerializer.Serialize(new { model = "sim", messages = new[] { new { role = "user", content = "hi" } }, max_tokens = maxTokens, stream, sim_tokens_per_second = tokensPerSecond }),
        Encoding.UTF8,
        "application/json");

    private static HttpRequestMessage Post(string path, HttpContent content, string? key = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return request;
    }

    /// <summary>Sends requests until one is refused (429) or the timeout passes; returns the refusal.</summary>
    private static async Task<(HttpResponseMessage Response, string Body)> UntilRefusedAsync(TestServer server, Func<HttpRequestMessage> request)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (DateTime.UtcNow < deadline)
        {
            var response = await server.Client.SendAsync(request());
            var body = await response.Content.ReadAsStringAsync();
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                return (response, body);
            }

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            response.Dispose();
        }

        throw new TimeoutException("No request was refused.");
    }

    /// <summary>Polls until a request is admitted again (the window ended), within the timeout.</summary>
    private static async Task UntilAdmittedAsync(TestServer server, Func<HttpRequestMessage> request)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (DateTime.UtcNow < deadline)
        {
            using var response = await server.Client.SendAsync(request());
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return;
            }

            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            await Task.Delay(100);
        }

        throw new TimeoutException("The limit did not recover.");
    }

    [Fact]
    public async Task Requests_over_the_limit_get_429_with_Retry_After_and_an_OpenAI_error_then_recover_after_the_window()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:RateLimits:RequestsPerMinute", "2", "--Tokenflow:RateLimits:Window", "00:00:02"]);
        var (refused, body) = await UntilRefusedAsync(server, () => Post("/v1/chat/completions", Chat()));

        var retryAfter = int.Parse(refused.Headers.GetValues("Retry-After").Single());
        Assert.InRange(retryAfter, 1, 2);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
        Assert.Equal("requests", error.GetProperty("type").GetString());
        Assert.Contains("2 requests", error.GetProperty("message").GetString(), StringComparison.Ordinal);

        await UntilAdmittedAsync(server, () => Post("/v1/chat/completions", Chat()));
        // Probes and scrapes are never limited.
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/healthz")).StatusCode);
        }
    }

    [Fact]
    public async Task The_Anthropic_door_answers_429_in_its_own_error_shape()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:RateLimits:RequestsPerMinute", "1", "--Tokenflow:RateLimits:Window", "00:01:00"]);
        var messages = () => Post("/v1/messages", new StringContent("""{"model":"sim","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));
        var (refused, body) = await UntilRefusedAsync(server, messages);
        Assert.True(refused.Headers.Contains("Retry-After"));
        var root = JsonDocument.Parse(body).RootElement;
        Assert.Equal("error", root.GetProperty("type").GetString());
        Assert.Equal("rate_limit_error", root.GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task Each_api_key_has_its_own_limit()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:ApiKeys:0", "sk-a", "--Tokenflow:ApiKeys:1", "sk-b", "--Tokenflow:RateLimits:RequestsPerMinute", "1", "--Tokenflow:RateLimits:Window", "00:01:00"]);
        await UntilRefusedAsync(server, () => Post("/v1/chat/completions", Chat(), "sk-a"));
        using var other = await server.Client.SendAsync(Post("/v1/chat/completions", Chat(), "sk-b"));
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
    }

    [Fact]
    public async Task Tokens_of_a_cancelled_stream_count_against_the_token_limit_until_the_window_ends()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:RateLimits:TokensPerMinute", "20", "--Tokenflow:RateLimits:Window", "00:00:10"]);

        // A slow stream, cancelled once it has made more tokens than the limit.
        using var response = await server.Client.SendAsync(Post("/v1/chat/completions", Chat(100_000, stream: true, tokensPerSecond: 100)), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var id = response.Headers.GetValues("X-Stream-Id").Single();
        using (var reader = new StreamReader(await response.Content.ReadAsStreamAsync()))
        {
            for (var seen = 0; seen < 25;)
            {
                var line = await reader.ReadLineAsync().WaitAsync(Timeout);
                Assert.NotNull(line);
                seen += line.StartsWith("id: ", StringComparison.Ordinal) ? 1 : 0;
            }
        }

        using var cancel = await server.Client.PostAsync($"/v1/streams/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        Assert.Equal("cancelled", JsonDocument.Parse(await cancel.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString());

        // Its tokens are charged when it ends (just after the cancel answers): small requests are refused
        // before they could have used the limit up by themselves.
        var polled = 0;
        var deadline = DateTime.UtcNow + Timeout;
        HttpResponseMessage next;
        while (true)
        {
            next = await server.Client.SendAsync(Post("/v1/chat/completions", Chat(1)));
            if (next.StatusCode == HttpStatusCode.TooManyRequests || DateTime.UtcNow > deadline)
            {
                break;
            }

            Assert.Equal(HttpStatusCode.OK, next.StatusCode);
            polled += JsonDocument.Parse(await next.Content.ReadAsStringAsync()).RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt32();
            next.Dispose();
        }

        using var refused = next;
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.True(polled < 20, $"refused only after the polls used {polled} tokens themselves");
        Assert.True(refused.Headers.Contains("Retry-After"));
        Assert.Equal("tokens", JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("type").GetString());

        // Reads are not generations: the token limit does not refuse them.
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync($"/v1/streams/{id}")).StatusCode);
        await UntilAdmittedAsync(server, () => Post("/v1/chat/completions", Chat()));
    }

    [Fact]
    public async Task A_limited_generate_on_a_WebSocket_gets_an_error_message_and_the_socket_stays_open()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:RateLimits:RequestsPerMinute", "3", "--Tokenflow:RateLimits:Window", "00:01:00"]);
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new UriBuilder(server.Address) { Scheme = "ws", Path = "/v1/ws" }.Uri, CancellationToken.None);

        JsonElement message = default;
        var deadline = DateTime.UtcNow + Timeout;
        for (var i = 0; DateTime.UtcNow < deadline; i++)
        {
            var generate = JsonSerializer.Serialize(new { type = "generate", id = $"g{i}", request = new { model = "sim", messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 1 } });
            await socket.SendAsync(Encoding.UTF8.GetBytes(generate), WebSocketMessageType.Text, true, CancellationToken.None);
            do
            {
                message = await ReceiveAsync(socket);
            }
            while (message.GetProperty("type").GetString() is "started" or "event");

            if (message.GetProperty("type").GetString() == "error")
            {
                break;
            }
        }

        Assert.Equal("error", message.GetProperty("type").GetString());
        Assert.Equal("rate_limit_exceeded", message.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(WebSocketState.Open, socket.State);
    }

    private static async Task<JsonElement> ReceiveAsync(ClientWebSocket socket)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        WebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer, timeout.Token);
            message.Write(buffer, 0, result.Count);
        }
        while (!result.EndOfMessage);

        return JsonDocument.Parse(message.ToArray()).RootElement.Clone();
    }
}
