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
    public async Task Every_endpoint_takes_the_hosts_conventions()
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
            Assert.NotNull(e.Metadata.GetMetadata<HostMarker>());
        });
    }

    private sealed class HostMarker;
}
