using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Tokenflow.Core.Sim;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Tests.OpenAi;

namespace Tokenflow.Server.Tests.WebSockets;

public sealed class WebSocketTests
{
    private static async Task<ClientWebSocket> ConnectAsync(TestServer server)
    {
        var socket = new ClientWebSocket();
        var uri = new UriBuilder(server.Address) { Scheme = "ws", Path = "/v1/ws" }.Uri;
        await socket.ConnectAsync(uri, CancellationToken.None);
        return socket;
    }

    private static Task SendAsync(ClientWebSocket socket, string json)
        => socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, CancellationToken.None);

    private static Task SendAsync(ClientWebSocket socket, object message) => SendAsync(socket, JsonSerializer.Serialize(message));

    private static async Task<JsonElement> ReceiveAsync(ClientWebSocket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        WebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer, timeout.Token);
            message.Write(buffer, 0, result.Count);
        }
        while (!result.EndOfMessage);

        Assert.Equal(WebSocketMessageType.Text, result.MessageType);
        return JsonDocument.Parse(message.ToArray()).RootElement.Clone();
    }

    private static object Generate(string tag, int maxTokens, int seed, double tokensPerSecond = 0, int grace = 3000) => new
    {
        type = "generate",
        id = tag,
        request = new { model = "sim", messages = new[] { new { role = "user", content = "hi" } }, max_tokens = maxTokens, seed, sim_tokens_per_second = tokensPerSecond, resume_grace_ms = grace },
    };

    private static string ChunkText(JsonElement data)
    {
        var choices = data.GetProperty("choices");
        return choices.GetArrayLength() > 0 && choices[0].GetProperty("delta").TryGetProperty("content", out var c) ? c.GetString()! : string.Empty;
    }

    [Fact]
    public async Task Two_generations_are_multiplexed_on_one_socket()
    {
        await using var server = await TestServer.StartAsync();
        using var socket = await ConnectAsync(server);
        await SendAsync(socket, Generate("a", 30, 1, tokensPerSecond: 500));
        await SendAsync(socket, Generate("b", 40, 2, tokensPerSecond: 500));

        var streams = new Dictionary<string, string>();
        var texts = new Dictionary<string, StringBuilder>();
        var seqs = new Dictionary<string, List<long>>();
        var done = new Dictionary<string, string>();
        while (done.Count < 2)
        {
            var message = await ReceiveAsync(socket);
            var streamId = message.GetProperty("stream_id").GetString()!;
            switch (message.GetProperty("type").GetString())
            {
                case "started":
                    streams[message.GetProperty("id").GetString()!] = streamId;
                    break;
                case "event":
                    texts.TryAdd(streamId, new StringBuilder());
                    texts[streamId].Append(ChunkText(message.GetProperty("data")));
                    (seqs.TryGetValue(streamId, out var list) ? list : seqs[streamId] = []).Add(message.GetProperty("seq").GetInt64());
                    Assert.Equal(streamId, message.GetProperty("data").GetProperty("id").GetString());
                    break;
                case "done":
                    done[streamId] = message.GetProperty("status").GetString()!;
                    break;
                default:
                    Assert.Fail($"unexpected message {message}");
                    break;
            }
        }

        Assert.Equal(SimBackend.ExpectedText(1, 30), texts[streams["a"]].ToString());
        Assert.Equal(SimBackend.ExpectedText(2, 40), texts[streams["b"]].ToString());
        Assert.All(seqs.Values, s => Assert.Equal(Enumerable.Range(1, s.Count).Select(i => (long)i), s));
        Assert.All(done.Values, status => Assert.Equal("completed", status));
    }

    [Fact]
    public async Task Subscribe_replays_a_stream_after_a_seq_and_cancel_stops_it()
    {
        await using var server = await TestServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = ChatCompletionsStreamingTests.Body(new { model = "sim", messages = new[] { new { role = "user", content = "hi" } }, stream = true, max_tokens = 100_000, seed = 4, sim_tokens_per_second = 200 }),
        };
        using var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var id = response.Headers.GetValues("X-Stream-Id").Single();

        using var socket = await ConnectAsync(server);
        await SendAsync(socket, new { type = "subscribe", stream_id = id, after = 2 });
        var first = await ReceiveAsync(socket);
        Assert.Equal("event", first.GetProperty("type").GetString());
        Assert.Equal(3, first.GetProperty("seq").GetInt64());

        await SendAsync(socket, new { type = "cancel", stream_id = id });
        JsonElement message;
        string? finish = null;
        do
        {
            message = await ReceiveAsync(socket);
            if (message.GetProperty("type").GetString() == "event" && message.GetProperty("data").GetProperty("choices")[0].GetProperty("finish_reason") is { ValueKind: JsonValueKind.String } f)
            {
                finish = f.GetString();
            }
        }
        while (message.GetProperty("type").GetString() != "done");

        Assert.Equal("cancelled", message.GetProperty("status").GetString());
        Assert.Equal("cancelled", finish);
    }

    [Fact]
    public async Task Malformed_messages_get_an_error_and_the_socket_stays_usable()
    {
        await using var server = await TestServer.StartAsync();
        using var socket = await ConnectAsync(server);

        await SendAsync(socket, "{not json");
        Assert.Equal("invalid_json", (await ReceiveAsync(socket)).GetProperty("error").GetProperty("code").GetString());

        await SendAsync(socket, new { type = "dance" });
        Assert.Equal("invalid_message", (await ReceiveAsync(socket)).GetProperty("error").GetProperty("code").GetString());

        await SendAsync(socket, new { type = "generate", id = "x", request = new { model = "nope", messages = new[] { new { role = "user", content = "hi" } } } });
        var unknownModel = await ReceiveAsync(socket);
        Assert.Equal("x", unknownModel.GetProperty("id").GetString());
        Assert.Equal("model_not_found", unknownModel.GetProperty("error").GetProperty("code").GetString());

        await SendAsync(socket, new { type = "subscribe", stream_id = "chatcmpl-missing" });
        Assert.Equal("stream_not_found", (await ReceiveAsync(socket)).GetProperty("error").GetProperty("code").GetString());

        await SendAsync(socket, Generate("ok", 3, 1));
        Assert.Equal("started", (await ReceiveAsync(socket)).GetProperty("type").GetString());
    }

    [Fact]
    public async Task Closing_the_socket_detaches_its_streams_and_the_grace_rules_stop_them()
    {
        await using var server = await TestServer.StartAsync();
        var socket = await ConnectAsync(server);
        await SendAsync(socket, Generate("slow", 100_000, 1, tokensPerSecond: 100, grace: 100));
        var started = await ReceiveAsync(socket);
        var id = started.GetProperty("stream_id").GetString()!;
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        socket.Dispose();

        var status = await CancellationTests.WaitForEndAsync(server.GetService<IStreamStore>(), id, TimeSpan.FromSeconds(20));
        Assert.Equal(StreamState.Cancelled, status.State);
    }
}
