using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Streams;
using Tokenflow.Redis;
using Tokenflow.Server.Durable;
using Tokenflow.Server.Mcp;
using Tokenflow.Server.OpenAi;
using Tokenflow.Server.Streams;
using Tokenflow.Server.WebSockets;

namespace Tokenflow.Server.Hosting;

/// <summary>Registers and maps the Tokenflow server in an ASP.NET Core host.</summary>
public static class TokenflowServerExtensions
{
    /// <summary>
    /// Adds the stream core, the OpenAI adapters and their options (<c>Tokenflow</c> section;
    /// stream store limits under <c>Tokenflow:Streams</c>), and applies the body size limit to Kestrel.
    /// </summary>
    public static IServiceCollection AddTokenflow(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TokenflowOptions>().Bind(configuration.GetSection(TokenflowOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<StreamStoreOptions>().Bind(configuration.GetSection($"{TokenflowOptions.Section}:Streams"));
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<TokenflowOptions>>((kestrel, tokenflow) =>
        {
            kestrel.Limits.MaxRequestBodySize = tokenflow.Value.MaxRequestBodyBytes;
            kestrel.AddServerHeader = false;
        });
        // Tokenflow:Store = "memory" (default) or a Redis configuration string (env Tokenflow__Store).
        var store = configuration[$"{TokenflowOptions.Section}:Store"];
        if (!string.IsNullOrWhiteSpace(store) && !string.Equals(store, "memory", StringComparison.OrdinalIgnoreCase))
        {
            services.AddRedisStreamStore(store);
        }

        services.AddTokenflowModels(configuration);
        services.AddTokenflowCore();
        services.AddSingleton<CompletionRequestValidator>();
        services.AddTokenflowMcp();
        services.AddDurableStreams(configuration);
        return services;
    }

    /// <summary>Maps the OpenAI-compatible endpoints. Returns the group so hosts can add auth or rate limits.</summary>
    public static RouteGroupBuilder MapTokenflow(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup(string.Empty);
        group.MapModels();
        group.MapChatCompletions();
        group.MapCompletions();
        group.MapStreams();
        group.MapTokenflowWebSocket();
        group.MapTokenflowMcp();
        group.MapDurableStreams();
        return group;
    }
}
