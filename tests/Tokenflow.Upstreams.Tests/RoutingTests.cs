using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Tokenflow.Upstreams.Tests;

public sealed class RoutingTests
{
    [Fact]
    public async Task Models_list_shows_each_upstreams_models_beside_the_local_ones_and_caches_them()
    {
        await using var fake = await FakeUpstream.StartAsync(c => c.Response.WriteAsync("""{"object":"list","data":[{"id":"m1","object":"model","created":1,"owned_by":"x"},{"id":"m2","object":"model","created":1,"owned_by":"x"}]}"""));
        await using var server = await TestServer.StartAsync(Gateway.Upstream("up", "openai", fake.V1, "--Tokenflow:Upstreams:up:Models:0", "gpt-4o"));

        for (var i = 0; i < 2; i++)
        {
            var json = JsonDocument.Parse(await server.Client.GetStringAsync("/v1/models")).RootElement;
            var ids = json.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()).ToList();
            Assert.Contains("sim", ids);
            Assert.Contains("up/m1", ids);
            Assert.Contains("up/m2", ids);
            Assert.Contains("gpt-4o", ids);
            Assert.Equal("up", json.GetProperty("data").EnumerateArray().First(m => m.GetProperty("id").GetString() == "up/m1").GetProperty("owned_by").GetString());
        }

        Assert.Single(fake.Requests, r => r.Path == "/v1/models");
        using var one = await server.Client.GetAsync("/v1/models/up/m1");
        Assert.Equal(HttpStatusCode.OK, one.StatusCode);
    }

    [Fact]
    public async Task An_unknown_upstream_prefix_or_unmatched_id_is_404_model_not_found()
    {
        await using var fake = await FakeUpstream.StartAsync(c => FakeUpstream.SseAsync(c, Recorded.OpenAiText(["x"], 1, 1)));
        await using var server = await TestServer.StartAsync(Gateway.Upstream("up", "openai", fake.V1, "--Tokenflow:Upstreams:up:Models:0", "gpt-*"));

        foreach (var model in new[] { "nope/gpt-4o", "claude-3", "up/" })
        {
            using var response = await Gateway.PostAsync(server, Gateway.Chat(model));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Contains("model_not_found", await response.Content.ReadAsStringAsync());
        }

        Assert.Empty(fake.Requests);
    }

    [Fact]
    public async Task Local_models_are_matched_before_upstream_patterns()
    {
        await using var fake = await FakeUpstream.StartAsync(c => FakeUpstream.SseAsync(c, Recorded.OpenAiText(["x"], 1, 1)));
        await using var server = await TestServer.StartAsync(Gateway.Upstream("up", "openai", fake.V1, "--Tokenflow:Upstreams:up:Models:0", "*"));

        using var local = await Gateway.PostAsync(server, Gateway.Chat("sim", maxTokens: 3));
        Assert.NotEmpty(Gateway.Content(await Gateway.ReadEventsAsync(local)));
        Assert.Empty(fake.Requests);

        using var routed = await Gateway.PostAsync(server, Gateway.Chat("anything"));
        Assert.Equal("x", Gateway.Content(await Gateway.ReadEventsAsync(routed)));
    }

    [Theory]
    [InlineData("Kind", "grpc", "Tokenflow:Upstreams:bad:Kind")]
    [InlineData("Url", "not a url", "Tokenflow:Upstreams:bad:Url")]
    [InlineData("TtftTimeout", "-00:00:01", "Tokenflow:Upstreams:bad:TtftTimeout")]
    public async Task A_bad_setting_stops_start_up_with_a_message_naming_it(string setting, string value, string named)
    {
        string[] args = [.. Gateway.Upstream("bad", "openai", "http://127.0.0.1:1/v1"), $"--Tokenflow:Upstreams:bad:{setting}", value];
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(async () => await (await TestServer.StartAsync(args)).DisposeAsync());
        Assert.Contains(named, ex.Message);
    }

    [Fact]
    public async Task A_literal_api_key_never_appears_in_a_start_up_error()
    {
        string[] args = [.. Gateway.Upstream("bad", "nope", "http://127.0.0.1:1/v1"), "--Tokenflow:Upstreams:bad:ApiKey", "sk-very-secret"];
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(async () => await (await TestServer.StartAsync(args)).DisposeAsync());
        Assert.DoesNotContain("sk-very-secret", ex.Message);
    }
}
