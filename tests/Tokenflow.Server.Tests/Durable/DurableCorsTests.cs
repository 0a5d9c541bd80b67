using System.Net;
using System.Text;

namespace Tokenflow.Server.Tests.Durable;

public sealed class DurableCorsTests
{
    private static HttpRequestMessage Preflight(string path, string method, string headers) => new(HttpMethod.Options, path)
    {
        Headers =
        {
            { "Origin", "https://app.example" },
            { "Access-Control-Request-Method", method },
            { "Access-Control-Request-Headers", headers },
        },
    };

    private static string[] List(HttpResponseMessage response, string header)
        => response.Headers.TryGetValues(header, out var values)
            ? values.SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToArray()
            : [];

    // A loopback server without API keys refuses foreign origins (LoopbackGuard); these pages are let in.
    private static readonly string[] Allowed = ["--Tokenflow:AllowedOrigins:0", "https://app.example", "--Tokenflow:AllowedOrigins:1", "https://elsewhere.example"];

    [Fact]
    public async Task A_preflight_from_an_admitted_origin_allows_the_protocols_methods_and_headers_for_a_day()
    {
        await using var server = await TestServer.StartAsync(Allowed);
        using var response = await server.Client.SendAsync(Preflight("/v1/durable/agents/plan", "PUT", "content-type,stream-ttl,if-none-match,producer-id"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal(["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS"], List(response, "Access-Control-Allow-Methods"));
        Assert.Equal(
            ["Content-Type", "Authorization", "If-None-Match", "Stream-Seq", "Stream-TTL", "Stream-Expires-At", "Stream-Closed", "Stream-Forked-From", "Stream-Fork-Offset", "Stream-Fork-Sub-Offset", "Producer-Id", "Producer-Epoch", "Producer-Seq"],
            List(response, "Access-Control-Allow-Headers"));
        Assert.Equal("86400", response.Headers.GetValues("Access-Control-Max-Age").Single());
    }

    [Fact]
    public async Task A_request_from_an_admitted_foreign_origin_is_served_and_may_read_the_protocol_headers()
    {
        await using var server = await TestServer.StartAsync(Allowed);
        (await server.Client.PutAsync("/v1/durable/shared", new StringContent("hi", Encoding.UTF8, "text/plain"))).Dispose();

        using var read = new HttpRequestMessage(HttpMethod.Get, "/v1/durable/shared?offset=-1") { Headers = { { "Origin", "https://elsewhere.example" } } };
        using var response = await server.Client.SendAsync(read);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("hi", await response.Content.ReadAsStringAsync());
        Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal(
            ["Stream-Next-Offset", "Stream-Up-To-Date", "Stream-Closed", "Stream-Cursor", "Stream-TTL", "Stream-Expires-At", "ETag", "Location", "Content-Type", "Producer-Epoch", "Producer-Seq", "Producer-Expected-Seq", "Producer-Received-Seq", "Stream-Sse-Data-Encoding"],
            List(response, "Access-Control-Expose-Headers"));
        Assert.Equal("cross-origin", response.Headers.GetValues("Cross-Origin-Resource-Policy").Single());

        using var missing = new HttpRequestMessage(HttpMethod.Get, "/v1/durable/not-there?offset=-1") { Headers = { { "Origin", "https://elsewhere.example" } } };
        using var notFound = await server.Client.SendAsync(missing);
        Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);
        Assert.Equal("*", notFound.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }

    [Fact]
    public async Task The_policy_covers_only_the_durable_endpoints()
    {
        await using var server = await TestServer.StartAsync(Allowed);
        using var response = await server.Client.SendAsync(Preflight("/v1/chat/completions", "POST", "content-type"));
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task With_api_keys_a_preflight_needs_no_key_but_the_request_that_follows_does()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:ApiKeys:0", "key-one"]);
        // Browsers never send credentials on a preflight, so it is answered by the CORS policy.
        using var preflight = await server.Client.SendAsync(Preflight("/v1/durable/agents/plan", "GET", "authorization"));
        Assert.Equal(HttpStatusCode.NoContent, preflight.StatusCode);
        Assert.Equal("*", preflight.Headers.GetValues("Access-Control-Allow-Origin").Single());

        using var read = new HttpRequestMessage(HttpMethod.Get, "/v1/durable/agents/plan?offset=-1") { Headers = { { "Origin", "https://app.example" } } };
        using var response = await server.Client.SendAsync(read);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
