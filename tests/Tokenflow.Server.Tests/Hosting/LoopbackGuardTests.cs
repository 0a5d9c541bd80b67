using System.Net;
using System.Text.Json;

namespace Tokenflow.Server.Tests.Hosting;

public sealed class LoopbackGuardTests
{
    private static async Task<(HttpStatusCode Status, string? Code)> GetModelsAsync(TestServer server, string? host = null, string? origin = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        if (host is not null)
        {
            request.Headers.Host = host;
        }

        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        using var response = await server.Client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        var code = response.IsSuccessStatusCode ? null : JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("code").GetString();
        return (response.StatusCode, code);
    }

    [Theory]
    [InlineData("attacker.example")]
    [InlineData("attacker.example:8080")]
    [InlineData("127.0.0.1.nip.io")]
    [InlineData("192.168.1.20")]
    public async Task A_foreign_host_name_on_a_loopback_server_is_403(string host)
    {
        await using var server = await TestServer.StartAsync();
        Assert.Equal((HttpStatusCode.Forbidden, "host_not_allowed"), await GetModelsAsync(server, host: host));
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("localhost:1234")]
    [InlineData("127.0.0.1:8080")]
    [InlineData("[::1]:8080")]
    [InlineData("LOCALHOST")]
    public async Task Loopback_host_names_with_any_port_are_served(string host)
    {
        await using var server = await TestServer.StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await GetModelsAsync(server, host: host)).Status);
    }

    [Theory]
    [InlineData("https://attacker.example")]
    [InlineData("http://127.0.0.1.attacker.example")]
    [InlineData("null")]
    public async Task A_foreign_origin_on_a_loopback_server_is_403(string origin)
    {
        await using var server = await TestServer.StartAsync();
        Assert.Equal((HttpStatusCode.Forbidden, "origin_not_allowed"), await GetModelsAsync(server, origin: origin));
    }

    [Theory]
    [InlineData("http://localhost:3000")]
    [InlineData("http://127.0.0.1:8080")]
    [InlineData("http://[::1]:5173")]
    public async Task A_loopback_page_is_served(string origin)
    {
        await using var server = await TestServer.StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await GetModelsAsync(server, origin: origin)).Status);
    }

    [Fact]
    public async Task A_foreign_preflight_is_answered_but_the_request_it_announces_is_refused()
    {
        await using var server = await TestServer.StartAsync();
        using var preflight = new HttpRequestMessage(HttpMethod.Options, "/v1/durable/plan")
        {
            Headers = { { "Origin", "https://attacker.example" }, { "Access-Control-Request-Method", "PUT" } },
        };
        using (var answered = await server.Client.SendAsync(preflight))
        {
            Assert.Equal(HttpStatusCode.NoContent, answered.StatusCode);
        }

        using var put = new HttpRequestMessage(HttpMethod.Put, "/v1/durable/plan") { Headers = { { "Origin", "https://attacker.example" } } };
        using var refused = await server.Client.SendAsync(put);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        using var head = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/v1/durable/plan"));
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
    }

    [Fact]
    public async Task Configured_hosts_and_origins_are_admitted_and_others_still_refused()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:AllowedHosts:0", "tokenflow.internal", "--Tokenflow:AllowedOrigins:0", "https://app.example/"]);
        Assert.Equal(HttpStatusCode.OK, (await GetModelsAsync(server, host: "tokenflow.internal:8080", origin: "https://app.example")).Status);
        Assert.Equal((HttpStatusCode.Forbidden, "origin_not_allowed"), await GetModelsAsync(server, origin: "https://other.example"));
        Assert.Equal((HttpStatusCode.Forbidden, "host_not_allowed"), await GetModelsAsync(server, host: "other.example"));
    }

    [Fact]
    public async Task With_api_keys_the_key_is_the_guard_and_foreign_hosts_reach_authentication()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:ApiKeys:0", "key-one"]);
        Assert.Equal((HttpStatusCode.Unauthorized, "invalid_api_key"), await GetModelsAsync(server, host: "attacker.example", origin: "https://attacker.example"));
    }

    [Fact]
    public async Task Generation_requests_from_a_drive_by_page_start_nothing()
    {
        await using var server = await TestServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"sim","messages":[{"role":"user","content":"hi"}]}""", System.Text.Encoding.UTF8, "text/plain"),
            Headers = { { "Origin", "https://attacker.example" } },
        };
        using var response = await server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(0, server.GetService<Tokenflow.Core.Streams.MemoryStreamStore>().StreamCount);
    }

    // The doors a drive-by page or a rebound DNS name would aim at: MCP, chat completions and the WebSocket.
    private static HttpRequestMessage DoorRequest(string path, string? host, string? origin)
    {
        var request = path switch
        {
            "/mcp" => new HttpRequestMessage(HttpMethod.Post, path)
            {
                Content = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}""", System.Text.Encoding.UTF8, "application/json"),
                Headers = { { "Accept", "application/json, text/event-stream" }, { "MCP-Protocol-Version", "2025-11-25" } },
            },
            "/v1/chat/completions" => new HttpRequestMessage(HttpMethod.Post, path)
            {
                Content = new StringContent("""{"model":"sim","max_tokens":2,"messages":[{"role":"user","content":"hi"}]}""", System.Text.Encoding.UTF8, "application/json"),
            },
            _ => new HttpRequestMessage(HttpMethod.Get, path),
        };
        if (host is not null)
        {
            request.Headers.Host = host;
        }

        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        return request;
    }

    [Theory]
    [InlineData("/mcp")]
    [InlineData("/v1/chat/completions")]
    [InlineData("/v1/ws")]
    public async Task Every_door_refuses_a_foreign_host_or_origin_with_a_clear_403(string path)
    {
        await using var server = await TestServer.StartAsync();
        foreach (var (host, origin, code) in new (string? Host, string? Origin, string Code)[] { ("evil.example.com", null, "host_not_allowed"), (null, "http://evil.example.com", "origin_not_allowed") })
        {
            using var request = DoorRequest(path, host, origin);
            using var response = await server.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
            Assert.Equal(code, error.GetProperty("code").GetString());
            Assert.Contains("evil.example.com", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal(0, server.GetService<Tokenflow.Core.Streams.MemoryStreamStore>().StreamCount);
    }

    [Theory]
    [InlineData("/mcp")]
    [InlineData("/v1/chat/completions")]
    public async Task Every_door_serves_loopback_and_configured_hosts_and_origins(string path)
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:AllowedHosts:0", "tokenflow.internal", "--Tokenflow:AllowedOrigins:0", "https://app.example"]);
        foreach (var (host, origin) in new[] { ("localhost:8080", "http://localhost:3000"), ("[::1]", "http://127.0.0.1:5173"), ("tokenflow.internal", "https://app.example") })
        {
            using var request = DoorRequest(path, host, origin);
            using var response = await server.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Theory]
    [InlineData("http://localhost:3000")]
    [InlineData("https://app.example")]
    public async Task The_websocket_door_serves_loopback_and_configured_origins(string origin)
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:AllowedOrigins:0", "https://app.example"]);
        using var socket = new System.Net.WebSockets.ClientWebSocket();
        socket.Options.SetRequestHeader("Origin", origin);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(new Uri($"ws://{server.Address.Authority}/v1/ws"), timeout.Token);
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, socket.State);
        await socket.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, null, timeout.Token);
    }
}
