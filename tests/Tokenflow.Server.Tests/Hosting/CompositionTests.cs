using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Tokenflow.Core.Durable;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Streams;
using Tokenflow.Redis;
using Tokenflow.Server.Hosting;

namespace Tokenflow.Server.Tests.Hosting;

public sealed class CompositionTests
{
    private static ServiceCollection Services()
    {
        var services = new ServiceCollection();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Tokenflow:EmbeddedModel"] = "false" }).Build();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        return services;
    }

    [Fact]
    public void A_store_added_on_the_builder_replaces_the_memory_store_before_or_after_AddTokenflow()
    {
        var after = Services();
        after.AddTokenflow(after.BuildServiceProvider().GetRequiredService<IConfiguration>()).AddRedisStore("127.0.0.1:1");

        var before = Services();
        before.AddTokenflowCore().AddRedisStore("127.0.0.1:1");
        before.AddTokenflow(before.BuildServiceProvider().GetRequiredService<IConfiguration>());

        foreach (var services in new[] { after, before })
        {
            using var provider = services.BuildServiceProvider();
            // The Redis stores are internal to their assembly: compare by name.
            Assert.Equal("RedisStreamStore", Assert.Single(provider.GetServices<IStreamStore>()).GetType().Name);
            Assert.Equal("RedisDurableStreamStore", Assert.Single(provider.GetServices<IDurableStreamStore>()).GetType().Name);
        }
    }

    [Fact]
    public async Task Every_endpoint_is_under_the_Tokenflow_policy_and_takes_the_hosts_conventions()
    {
        var builder = WebApplication.CreateSlimBuilder(["--Tokenflow:EmbeddedModel", "false"]);
        builder.Services.AddTokenflow(builder.Configuration);
        await using var app = builder.Build();
        app.MapTokenflow().WithMetadata(new HostMarker());

        var endpoints = ((IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints).OfType<RouteEndpoint>().ToList();
        foreach (var prefix in new[] { "/mcp", "/v1/ws", "/v1/durable/", "/v1/models", "/v1/chat/completions", "/v1/completions", "/v1/streams/" })
        {
            Assert.Contains(endpoints, e => e.RoutePattern.RawText!.StartsWith(prefix, StringComparison.Ordinal));
        }

        Assert.All(endpoints, e =>
        {
            Assert.Contains(e.Metadata.GetOrderedMetadata<IAuthorizeData>(), a => a.Policy == ApiKeys.Policy);
            Assert.NotNull(e.Metadata.GetMetadata<HostMarker>());
        });
    }

    [Fact]
    public async Task An_mcp_session_is_bound_to_the_key_that_opened_it()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:ApiKeys:0", "key-one", "--Tokenflow:ApiKeys:1", "key-two", "--Tokenflow:Mcp:SessionMode", "StatefulForInitializeClients"]);
        using var initialize = Post("key-one", null, """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}""");
        using var opened = await server.Client.SendAsync(initialize);
        Assert.Equal(HttpStatusCode.OK, opened.StatusCode);
        var session = opened.Headers.GetValues("Mcp-Session-Id").Single();

        const string list = """{"jsonrpc":"2.0","id":2,"method":"tools/list"}""";
        using var other = await server.Client.SendAsync(Post("key-two", session, list));
        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        using var none = await server.Client.SendAsync(Post(null, session, list));
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        using var owner = await server.Client.SendAsync(Post("key-one", session, list));
        Assert.Equal(HttpStatusCode.OK, owner.StatusCode);
    }

    private static HttpRequestMessage Post(string? key, string? session, string json)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/mcp") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        request.Headers.Add("MCP-Protocol-Version", "2025-11-25");
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        if (session is not null)
        {
            request.Headers.Add("Mcp-Session-Id", session);
        }

        return request;
    }

    private sealed class HostMarker;
}
