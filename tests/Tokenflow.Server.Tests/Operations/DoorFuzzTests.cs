using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;

namespace Tokenflow.Server.Tests.Operations;

/// <summary>
/// Fuzzes the request parsing of every door on a real server with FsCheck-generated malformed and adversarial
/// input: every case gets an answer below 500 (in the door's own error shape when it is an error) within a
/// timeout, and the server still serves afterwards. <c>TOKENFLOW_FUZZ_CASES</c> (per door; default 40) and
/// <c>TOKENFLOW_FUZZ_SEED</c> scale and vary the run.
/// </summary>
public sealed class DoorFuzzTests
{
    private static readonly int Cases = int.TryParse(Environment.GetEnvironmentVariable("TOKENFLOW_FUZZ_CASES"), out var n) ? n : 40;
    private static readonly ulong Seed = ulong.TryParse(Environment.GetEnvironmentVariable("TOKENFLOW_FUZZ_SEED"), out var s) ? s : 20261202;
    private static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(20);

    private const string Messages = """[{"role":"user","content":"hi"}]""";

    private static List<T> Sample<T>(Gen<T> gen, int salt) => gen.Sample(size: 30, seed: new Rnd(Seed + (ulong)salt), numberOfSamples: Cases).ToList();

    public enum Shape
    {
        OpenAi,
        Anthropic,
        JsonRpc,
        Text,
        Any,
    }

    private static async Task SendAllAsync(TestServer server, IEnumerable<Func<HttpRequestMessage>> cases, Shape shape)
    {
        foreach (var make in cases)
        {
            using var request = make();
            var label = $"{request.Method} {request.RequestUri} {await Describe(request)}";
            using var timeout = new CancellationTokenSource(CaseTimeout);
            HttpResponseMessage response;
            try
            {
                response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new Xunit.Sdk.XunitException($"No answer within {CaseTimeout}: {label}");
            }

            using (response)
            {
                var status = (int)response.StatusCode;
                var body = status >= 400 ? await Body(response) : string.Empty;
                Assert.True(status < 500, $"{status} for {label}: {Truncate(body)}");
                if (status >= 400)
                {
                    AssertShape(shape, status, body, response.Content.Headers.ContentType?.MediaType, label);
                }
            }
        }

        // Still healthy, and still generating.
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/healthz")).StatusCode);
        using var ok = await server.Client.PostAsync("/v1/chat/completions", new StringContent("""{"model":"sim","messages":[{"role":"user","content":"hi"}],"max_tokens":3}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    private static void AssertShape(Shape shape, int status, string body, string? mediaType, string label)
    {
        if (shape == Shape.Any || status is 414 or 431)
        {
            // 414/431: Kestrel's own URL and header limits answer before any door.
            return;
        }

        if (shape == Shape.Text)
        {
            // The Durable Streams door answers its own errors in short text (Kestrel's own 400s have no body); what
            // reaches the last-resort handler (a store failure) is the OpenAI error object.
            if (body.Length == 0 || mediaType == "text/plain")
            {
                return;
            }

            shape = Shape.OpenAi;
        }

        JsonElement root;
        try
        {
            root = JsonDocument.Parse(body).RootElement;
        }
        catch (JsonException)
        {
            throw new Xunit.Sdk.XunitException($"Error body is not JSON for {label}: {Truncate(body)}");
        }

        if (shape == Shape.Anthropic)
        {
            Assert.True(root.TryGetProperty("type", out var type) && type.GetString() == "error" && root.GetProperty("error").TryGetProperty("type", out _), $"{label}: {Truncate(body)}");
        }
        else if (shape == Shape.JsonRpc)
        {
            Assert.True(root.TryGetProperty("jsonrpc", out var version) && version.GetString() == "2.0" && root.GetProperty("error").TryGetProperty("code", out _), $"{label}: {Truncate(body)}");
        }
        else
        {
            Assert.True(root.TryGetProperty("error", out var error) && error.TryGetProperty("message", out _), $"{label}: {Truncate(body)}");
        }
    }

    private static async Task<string> Body(HttpResponseMessage response)
    {
        using var timeout = new CancellationTokenSource(CaseTimeout);
        var bytes = await response.Content.ReadAsByteArrayAsync(timeout.Token);
        return Encoding.UTF8.GetString(bytes);
    }

    private static async Task<string> Describe(HttpRequestMessage request)
    {
        var headers = string.Join("; ", request.Headers.Select(h => $"{h.Key}: {Truncate(string.Join(",", h.Value))}"));
        var body = request.Content is null ? string.Empty : Convert.ToBase64String(await request.Content.ReadAsByteArrayAsync());
        return $"[{headers}] body(base64)={Truncate(body)}";
    }

    private static string Truncate(string text) => text.Length > 300 ? text[..300] + "…" : text;

    private static Func<HttpRequestMessage> Post(string path, byte[] body, string contentType = "application/json")
        => () => new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) { Headers = { { "Content-Type", contentType } } } };

    [Fact]
    public async Task Chat_completions_bodies()
    {
        await using var server = await TestServer.StartAsync();
        var bodies = Sample(FuzzInputs.Object(
            ("model", "\"sim\""), ("messages", Messages), ("max_tokens", "4"), ("stream", "true"), ("resume_grace_ms", "0"), ("temperature", "0.5"),
            ("top_p", "1"), ("seed", "1"), ("stop", "[\"x\"]"), ("stream_options", "{\"include_usage\":true,\"partial_json\":true}"),
            ("tools", """[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"string"}}}}}]"""),
            ("tool_choice", "\"auto\""), ("response_format", "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":\"object\"}}}"),
            ("watch", "[{\"id\":\"w\",\"regex\":\"a\"}]"), ("cancel_on", "\"w\""), ("retention", "\"ttl\""), ("n", "1"), ("background", "false")), 1);
        await SendAllAsync(server, bodies.Select(b => Post("/v1/chat/completions", b)), Shape.OpenAi);
    }

    [Fact]
    public async Task Completions_and_watch_bodies()
    {
        await using var server = await TestServer.StartAsync();
        var completions = Sample(FuzzInputs.Object(("model", "\"sim\""), ("prompt", "\"hi\""), ("max_tokens", "4"), ("stream", "false"), ("echo", "false"), ("stop", "\"x\"")), 2);
        using var start = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent("""{"model":"sim","messages":[{"role":"user","content":"hi"}],"max_tokens":100000,"stream":true,"sim_tokens_per_second":5,"background":true}""", Encoding.UTF8, "application/json") };
        using var started = await server.Client.SendAsync(start, HttpCompletionOption.ResponseHeadersRead);
        var id = started.Headers.GetValues("X-Stream-Id").Single();
        var watches = Sample(FuzzInputs.Object(("id", "\"w1\""), ("regex", "\"a\""), ("json_path", "\"$.a\""), ("when", "\"complete\"")), 3);
        await SendAllAsync(server, completions.Select(b => Post("/v1/completions", b)).Concat(watches.Select(b => Post($"/v1/streams/{id}/watches", b))), Shape.OpenAi);
        await server.Client.PostAsync($"/v1/streams/{id}/cancel", null);
    }

    [Fact]
    public async Task Anthropic_messages_bodies()
    {
        await using var server = await TestServer.StartAsync();
        var bodies = Sample(FuzzInputs.Object(
            ("model", "\"sim\""), ("max_tokens", "4"), ("messages", Messages), ("system", "\"be brief\""), ("stream", "true"),
            ("stop_sequences", "[\"x\"]"), ("temperature", "0.5"), ("thinking", "{\"type\":\"enabled\",\"budget_tokens\":1024}"),
            ("tools", """[{"name":"f","input_schema":{"type":"object"}}]"""), ("tool_choice", "{\"type\":\"auto\"}"), ("metadata", "{}")), 4);
        await SendAllAsync(server, bodies.Select(b => Post("/v1/messages", b)), Shape.Anthropic);
    }

    [Fact]
    public async Task Responses_bodies()
    {
        await using var server = await TestServer.StartAsync();
        var bodies = Sample(FuzzInputs.Object(
            ("model", "\"sim\""), ("input", "\"hi\""), ("max_output_tokens", "4"), ("stream", "true"), ("instructions", "\"x\""),
            ("background", "false"), ("store", "true"), ("previous_response_id", "\"resp_x\""), ("text", "{\"format\":{\"type\":\"text\"}}"),
            ("tools", """[{"type":"function","name":"f","parameters":{"type":"object"}}]"""), ("reasoning", "{}")), 5);
        await SendAllAsync(server, bodies.Select(b => Post("/v1/responses", b)), Shape.OpenAi);
    }

    [Fact]
    public async Task Stream_event_cursors_in_headers_and_queries()
    {
        await using var server = await TestServer.StartAsync();
        using var done = await server.Client.PostAsync("/v1/chat/completions", new StringContent("""{"model":"sim","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"stream":true}""", Encoding.UTF8, "application/json"));
        var id = done.Headers.GetValues("X-Stream-Id").Single();
        await done.Content.ReadAsStringAsync();
        var cursors = Sample(FuzzInputs.HeaderValue, 6);
        var cases = cursors.SelectMany(c => new Func<HttpRequestMessage>[]
        {
            () =>
            {
                var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/streams/{id}/events");
                request.Headers.TryAddWithoutValidation("Last-Event-ID", c);
                return request;
            },
            () => new HttpRequestMessage(HttpMethod.Get, $"/v1/streams/{id}/events?after={Uri.EscapeDataString(c)}"),
            () => new HttpRequestMessage(HttpMethod.Get, $"/v1/streams/{Uri.EscapeDataString(c)}x"),
            () => new HttpRequestMessage(HttpMethod.Get, $"/v1/responses/{Uri.EscapeDataString(c)}x?stream=true&starting_after={Uri.EscapeDataString(c)}"),
        });
        await SendAllAsync(server, cases, Shape.OpenAi);
    }

    [Fact]
    public async Task Durable_streams_headers_and_bodies()
    {
        await using var server = await TestServer.StartAsync();
        using (var created = await server.Client.PutAsync("/v1/durable/fuzz/json", new StringContent("[]", Encoding.UTF8, "application/json")))
        {
            Assert.True(created.IsSuccessStatusCode, created.StatusCode.ToString());
        }

        string[] headers = ["Stream-TTL", "Stream-Expires-At", "Stream-Seq", "Stream-Closed", "Producer-Id", "Producer-Epoch", "Producer-Seq", "If-None-Match", "Stream-Forked-From", "Stream-Fork-Offset"];
        var values = Sample(FuzzInputs.Zip3(Gen.Elements(headers), FuzzInputs.HeaderValue, FuzzInputs.Damage("""{"a":1}"""u8.ToArray())), 7);
        var i = 0;
        var cases = values.SelectMany(v =>
        {
            var path = $"/v1/durable/fuzz/s{i++}";
            return new Func<HttpRequestMessage>[]
            {
                () => WithHeader(new HttpRequestMessage(HttpMethod.Put, path) { Content = Json(v.Item3) }, v.Item1, v.Item2),
                () => WithHeader(new HttpRequestMessage(HttpMethod.Post, "/v1/durable/fuzz/json") { Content = Json(v.Item3) }, v.Item1, v.Item2),
                () => new HttpRequestMessage(HttpMethod.Get, $"/v1/durable/fuzz/json?offset={Uri.EscapeDataString(v.Item2)}"),
                () => new HttpRequestMessage(HttpMethod.Get, $"/v1/durable/fuzz/json?offset=-1&live={Uri.EscapeDataString(v.Item2)}&cursor={Uri.EscapeDataString(v.Item2)}"),
            };
        });
        await SendAllAsync(server, cases, Shape.Text);
    }

    [Fact]
    public async Task Durable_json_streams_reject_bodies_that_are_not_valid_UTF8_JSON()
    {
        await using var server = await TestServer.StartAsync();
        using (var created = await server.Client.PutAsync("/v1/durable/fuzz/strict", new StringContent("[]", Encoding.UTF8, "application/json")))
        {
            Assert.True(created.IsSuccessStatusCode, created.StatusCode.ToString());
        }

        byte[][] invalid = [[0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D], [0x22, 0xED, 0xA0, 0x80, 0x22], "{\"a\":"u8.ToArray(), "nope"u8.ToArray(), "{\"a\":1}{"u8.ToArray(), [0xC3, 0x28]];
        foreach (var body in invalid)
        {
            using var response = await server.Client.PostAsync("/v1/durable/fuzz/strict", Json(body));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        var read = await server.Client.GetStringAsync("/v1/durable/fuzz/strict?offset=-1");
        Assert.Equal("[]", read);
    }

    [Fact]
    public async Task Mcp_tool_arguments_and_envelopes()
    {
        await using var server = await TestServer.StartAsync();
        var arguments = Sample(Gen.Zip(
            Gen.Elements("generate", "start_generation", "read_stream", "cancel_stream", "nope"),
            Gen.Frequency((4, FuzzInputs.Object(("prompt", "\"hi\""), ("model", "\"sim\""), ("max_tokens", "3"), ("stream_id", "\"chatcmpl-x\""), ("after", "0"), ("wait_ms", "0"), ("messages", Messages), ("stop", "[\"x\"]"))), (1, FuzzInputs.Value.Select(Encoding.UTF8.GetBytes)))), 8);
        var envelopes = Sample(FuzzInputs.Object(("jsonrpc", "\"2.0\""), ("id", "1"), ("method", "\"tools/call\""), ("params", """{"name":"generate","arguments":{"prompt":"hi","model":"sim","max_tokens":2}}""")), 9);
        var cases = arguments.Select(a => Mcp(Encoding.UTF8.GetBytes($"{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{{\"name\":\"{a.Item1}\",\"arguments\":")
                .Concat(a.Item2).Concat("}}"u8.ToArray()).ToArray()))
            .Concat(envelopes.Select(Mcp));
        await SendAllAsync(server, cases, Shape.JsonRpc);
    }

    // Methods a route does not take: the last-resort status pages answer them, in the door's own shape.
    [Theory]
    [InlineData("GET", "/v1/messages", null, Shape.Anthropic)]
    [InlineData("DELETE", "/v1/responses", null, Shape.OpenAi)]
    [InlineData("PUT", "/mcp", null, Shape.JsonRpc)]
    public async Task Status_pages_answer_in_the_doors_shape(string method, string path, string? body, Shape shape)
    {
        await using var server = await TestServer.StartAsync();
        var request = () =>
        {
            var message = new HttpRequestMessage(new HttpMethod(method), path);
            if (body is not null)
            {
                message.Content = new StringContent(body, Encoding.UTF8, "application/json");
            }

            message.Headers.TryAddWithoutValidation("Accept", "application/json, text/event-stream");
            return message;
        };

        using (var probe = request())
        {
            using var response = await server.Client.SendAsync(probe);
            Assert.InRange((int)response.StatusCode, 400, 499);
        }

        await SendAllAsync(server, [request], shape);
    }

    // A chunked body with a chunk size that is not hex: Kestrel throws while the door reads it, and the last-resort
    // exception handler answers — in the door's own shape, as a 400, not a 500.
    [Theory]
    [InlineData("/v1/messages", Shape.Anthropic)]
    [InlineData("/v1/responses", Shape.OpenAi)]
    [InlineData("/v1/chat/completions", Shape.OpenAi)]
    [InlineData("/v1/completions", Shape.OpenAi)]
    public async Task An_unreadable_body_gets_a_400_in_the_doors_shape(string path, Shape shape)
    {
        await using var server = await TestServer.StartAsync();
        using var timeout = new CancellationTokenSource(CaseTimeout);
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await socket.ConnectAsync(server.Address.Host, server.Address.Port, timeout.Token);
        var request = $"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.Address.Port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nf\r\n{{\"model\":\"sim\",\r\nzz\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(request), System.Net.Sockets.SocketFlags.None, timeout.Token);

        var received = new MemoryStream();
        var buffer = new byte[4096];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, timeout.Token)) > 0)
        {
            received.Write(buffer, 0, read);
        }

        var text = Encoding.UTF8.GetString(received.ToArray());
        Assert.StartsWith("HTTP/1.1 400", text, StringComparison.Ordinal);
        var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var headers = text[..split];
        var body = text[(split + 4)..];
        if (headers.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
        {
            // One chunk: "<hex>\r\n<data>\r\n0\r\n\r\n".
            var size = body.IndexOf("\r\n", StringComparison.Ordinal);
            body = body.Substring(size + 2, Convert.ToInt32(body[..size], 16));
        }

        AssertShape(shape, 400, body, "application/json", $"POST {path} with a bad chunk");
    }

    [Fact]
    public async Task WebSocket_frames()
    {
        await using var server = await TestServer.StartAsync();
        var frames = Sample(Gen.OneOf(
            FuzzInputs.Object(("type", "\"generate\""), ("id", "\"g\""), ("request", """{"model":"sim","messages":[{"role":"user","content":"hi"}],"max_tokens":2}""")),
            FuzzInputs.Object(("type", "\"subscribe\""), ("stream_id", "\"chatcmpl-x\""), ("after", "0")),
            FuzzInputs.Object(("type", "\"cancel\""), ("stream_id", "\"chatcmpl-x\""))), 10);
        var uri = new UriBuilder(server.Address) { Scheme = "ws", Path = "/v1/ws" }.Uri;
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(uri, CancellationToken.None);
        var buffer = new byte[1 << 20];
        foreach (var frame in frames)
        {
            using var timeout = new CancellationTokenSource(CaseTimeout);
            var label = Convert.ToBase64String(frame[..Math.Min(frame.Length, 300)]);
            await socket.SendAsync(frame, WebSocketMessageType.Text, true, timeout.Token);
            if (!System.Text.Unicode.Utf8.IsValid(frame))
            {
                // Invalid UTF-8 in a text frame: the protocol says fail the connection (1007); the runtime's
                // WebSocket does, so the socket closes or aborts. Never a server error; a new one connects.
                try
                {
                    var close = await socket.ReceiveAsync(buffer, timeout.Token);
                    Assert.True(close.MessageType == WebSocketMessageType.Close || Reply(buffer, close) is { } r && IsClientError(r), label);
                }
                catch (WebSocketException)
                {
                }

                socket.Dispose();
                socket = new ClientWebSocket();
                await socket.ConnectAsync(uri, CancellationToken.None);
                continue;
            }

            // A reply to a bad frame is an error naming a client mistake; a good one streams. Read until
            // an error or done: a started generation ends (2 tokens).
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, timeout.Token);
                Assert.True(result.EndOfMessage, label);
                var reply = Reply(buffer, result);
                Assert.NotNull(reply);
                var type = reply.Value.GetProperty("type").GetString();
                if (type == "error")
                {
                    Assert.True(IsClientError(reply.Value), $"{label}: {reply}");
                    break;
                }

                if (type == "done")
                {
                    break;
                }
            }
        }

        socket.Dispose();
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/healthz")).StatusCode);
    }

    private static JsonElement? Reply(byte[] buffer, WebSocketReceiveResult result)
        => result.MessageType == WebSocketMessageType.Text ? JsonDocument.Parse(buffer.AsMemory(0, result.Count)).RootElement.Clone() : null;

    private static bool IsClientError(JsonElement reply)
        => reply.GetProperty("type").GetString() == "error" && reply.GetProperty("error").GetProperty("type").GetString() != "server_error";

    private static Func<HttpRequestMessage> Mcp(byte[] body) => () =>
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/mcp") { Content = Json(body) };
        request.Headers.TryAddWithoutValidation("Accept", "application/json, text/event-stream");
        return request;
    };

    private static ByteArrayContent Json(byte[] body) => new(body) { Headers = { { "Content-Type", "application/json" } } };

    private static HttpRequestMessage WithHeader(HttpRequestMessage request, string name, string value)
    {
        if (!request.Headers.TryAddWithoutValidation(name, value))
        {
            request.Content!.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }
}
