using System.Net;
using System.Text.Json;

namespace Tokenflow.Server.Tests.Operations;

public sealed class HealthTests
{
    [Fact]
    public async Task Healthz_and_readyz_answer_200_with_the_checks_of_a_ready_server()
    {
        await using var server = await TestServer.StartAsync();
        using var alive = await server.Client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
        Assert.Equal("healthy", JsonDocument.Parse(await alive.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString());

        using var ready = await server.Client.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var checks = JsonDocument.Parse(await ready.Content.ReadAsStringAsync()).RootElement.GetProperty("checks");
        foreach (var name in new[] { "models", "store", "drain" })
        {
            Assert.Equal("healthy", checks.GetProperty(name).GetProperty("status").GetString());
        }
    }

    [Fact]
    public async Task Health_endpoints_need_no_api_key_while_the_api_does()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:ApiKeys:0", "sk-test"]);
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/readyz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Client.GetAsync("/v1/models")).StatusCode);
    }

    [Fact]
    public async Task Readyz_is_503_when_the_redis_store_is_unreachable()
    {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        await using var server = await TestServer.StartAsync(["--Tokenflow:Store", "127.0.0.1:1,abortConnect=false,connectTimeout=500"]);
        using var ready = await server.Client.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        var checks = JsonDocument.Parse(await ready.Content.ReadAsStringAsync()).RootElement.GetProperty("checks");
        Assert.Equal("unhealthy", checks.GetProperty("store").GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task Readyz_is_503_while_the_embedded_model_loads_then_200()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:EmbeddedModel", "true"]);
        // Loading may already be done on a fast machine; either way it ends ready, within a generous timeout.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        HttpStatusCode status;
        do
        {
            using var ready = await server.Client.GetAsync("/readyz");
            status = ready.StatusCode;
            Assert.True(status is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, status.ToString());
            if (status == HttpStatusCode.OK)
            {
                break;
            }

            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Equal(HttpStatusCode.OK, status);
    }
}
