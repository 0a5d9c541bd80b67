using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Tokenflow.Server.Tests.OpenAi;

namespace Tokenflow.Server.Tests.Hosting;

public sealed class ApiKeyTests
{
    private static readonly string[] Keys = ["--Tokenflow:ApiKeys:0", "key-one", "--Tokenflow:ApiKeys:1", "key-two"];

    private static HttpRequestMessage Request(HttpMethod method, string path, string? key, object? body = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : ChatCompletionsStreamingTests.Body(body) };
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return request;
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong")]
    [InlineData("key-one-but-longer")]
    public async Task Requests_without_a_valid_key_get_401(string? key)
    {
        await using var server = await TestServer.StartAsync(Keys);
        using var response = await server.Client.SendAsync(Request(HttpMethod.Get, "/v1/models", key));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("invalid_api_key", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_stream_is_visible_only_to_the_key_that_created_it()
    {
        await using var server = await TestServer.StartAsync(Keys);
        using var create = await server.Client.SendAsync(Request(HttpMethod.Post, "/v1/chat/completions", "key-one", new { model = "sim", messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 5 }));
        Assert.Equal(HttpStatusCode.OK, create.StatusCode);
        var id = create.Headers.GetValues("X-Stream-Id").Single();

        foreach (var (method, path) in new[] { (HttpMethod.Get, $"/v1/streams/{id}"), (HttpMethod.Get, $"/v1/streams/{id}/events"), (HttpMethod.Post, $"/v1/streams/{id}/cancel") })
        {
            using var other = await server.Client.SendAsync(Request(method, path, "key-two"));
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
            using var owner = await server.Client.SendAsync(Request(method, path, "key-one"));
            Assert.Equal(HttpStatusCode.OK, owner.StatusCode);
        }

        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer key-two");
        await socket.ConnectAsync(new UriBuilder(server.Address) { Scheme = "ws", Path = "/v1/ws" }.Uri, CancellationToken.None);
        await socket.SendAsync(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { type = "subscribe", stream_id = id })), WebSocketMessageType.Text, true, CancellationToken.None);
        var buffer = new byte[4096];
        var received = await socket.ReceiveAsync(buffer, new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        var message = JsonDocument.Parse(buffer.AsMemory(0, received.Count)).RootElement;
        Assert.Equal("stream_not_found", message.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_browser_WebSocket_sends_its_key_as_a_subprotocol_and_the_server_selects_only_tokenflow_v1()
    {
        await using var server = await TestServer.StartAsync(Keys);
        var uri = new UriBuilder(server.Address) { Scheme = "ws", Path = "/v1/ws" }.Uri;
        static string Protocol(string key) => "tokenflow.bearer." + Convert.ToBase64String(Encoding.UTF8.GetBytes(key)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

        // The key made the stream; the socket that carries it as a subprotocol may read it.
        using var create = await server.Client.SendAsync(Request(HttpMethod.Post, "/v1/chat/completions", "key-one", new { model = "sim", messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 3, seed = 2 }));
        var id = create.Headers.GetValues("X-Stream-Id").Single();
        using (var socket = new ClientWebSocket())
        {
            socket.Options.AddSubProtocol("tokenflow.v1");
            socket.Options.AddSubProtocol(Protocol("key-one"));
            await socket.ConnectAsync(uri, CancellationToken.None);
            Assert.Equal("tokenflow.v1", socket.SubProtocol);
            await socket.SendAsync(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { type = "subscribe", stream_id = id })), WebSocketMessageType.Text, true, CancellationToken.None);
            var buffer = new byte[8192];
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            string type;
            do
            {
                var received = await socket.ReceiveAsync(buffer, timeout.Token);
                type = JsonDocument.Parse(buffer.AsMemory(0, received.Count)).RootElement.GetProperty("type").GetString()!;
                Assert.NotEqual("error", type);
            }
            while (type != "done");
        }

        // A wrong or undecodable key in the subprotocol is refused like a wrong bearer token.
        foreach (var protocol in new[] { Protocol("key-three"), "tokenflow.bearer.!!not-base64!!" })
        {
            using var refused = new ClientWebSocket();
            refused.Options.AddSubProtocol("tokenflow.v1");
            refused.Options.AddSubProtocol(protocol);
            refused.Options.CollectHttpResponseDetails = true;
            await Assert.ThrowsAsync<WebSocketException>(() => refused.ConnectAsync(uri, CancellationToken.None));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.HttpStatusCode);
        }
    }
}
