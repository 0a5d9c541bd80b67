using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Tokenflow.Core;
using Tokenflow.Core.Durable;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Streams;
using Tokenflow.Redis;
using Tokenflow.Server.Anthropic;
using Tokenflow.Server.Durable;
using Tokenflow.Server.Mcp;
using Tokenflow.Server.OpenAi;
using Tokenflow.Server.Operations;
using Tokenflow.Server.Responses;
using Tokenflow.Server.Streams;
using Tokenflow.Server.WebSockets;
using Tokenflow.Upstreams;

namespace Tokenflow.Server.Hosting;

/// <summary>Registers and maps the Tokenflow server in an ASP.NET Core host.</summary>
public static class TokenflowServerExtensions
{
    /// <summary>
    /// Adds the stream core, every door (OpenAI, streams, WebSocket, MCP, Durable Streams), API-key
    /// authentication and their options, bound from the <c>Tokenflow</c> section and validated at start-up
    /// (stream store limits under <c>Tokenflow:Streams</c>); applies the body size limit to Kestrel. The
    /// store and models <paramref name="configuration"/> names are added too: <c>Tokenflow:Store</c> (a Redis
    /// configuration string; default memory), the embedded model, <c>model</c> / <c>Tokenflow:Model</c> and
    /// <c>Tokenflow:Models:&lt;id&gt;</c>, and the upstream providers under <c>Tokenflow:Upstreams</c>. Returns the builder for more (<c>.AddRedisStore(…)</c>,
    /// <c>.AddLlamaCpp(…)</c>), in any order.
    /// </summary>
    public static ITokenflowBuilder AddTokenflow(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var builder = services.AddTokenflowCore();
        services.AddOptions<TokenflowOptions>().BindConfiguration(TokenflowOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<StreamStoreOptions>().BindConfiguration(TokenflowCoreServiceCollectionExtensions.StreamsSection);
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<TokenflowOptions>>((kestrel, tokenflow) =>
        {
            kestrel.Limits.MaxRequestBodySize = tokenflow.Value.MaxRequestBodyBytes;
            kestrel.AddServerHeader = false;
        });
        services.AddApiKeyAuthentication();
        services.AddSingleton<CompletionRequestValidator>();
        services.AddSingleton<Anthropic.MessagesRequestParser>();
        services.AddSingleton<Responses.ResponsesRequestParser>();
        services.AddTokenflowMcp();
        services.AddTokenflowOperations(configuration);
        services.AddDurableStreams(configuration);
        services.AddOptions<DurableStreamOptions>()
            .Validate(o => o.LongPollTimeout > TimeSpan.Zero, $"{DurableStreamOptions.Section}:{nameof(DurableStreamOptions.LongPollTimeout)} must be positive.")
            .Validate(o => o.SseConnectionLifetime > TimeSpan.Zero, $"{DurableStreamOptions.Section}:{nameof(DurableStreamOptions.SseConnectionLifetime)} must be positive.");

        // Tokenflow:Store = "memory" (default) or a Redis configuration string (env Tokenflow__Store).
        var store = configuration[$"{TokenflowOptions.Section}:Store"];
        if (!string.IsNullOrWhiteSpace(store) && !string.Equals(store, "memory", StringComparison.OrdinalIgnoreCase))
        {
            builder.AddRedisStore(store);
        }

        // Tokenflow:Upstreams:<name>:… — provider backends, routed after the local models.
        builder.AddUpstreams();
        return builder.AddConfiguredModels(configuration);
    }

    /// <summary>
    /// Maps every Tokenflow endpoint (<c>/v1/…</c> and <c>/mcp</c>) under the <see cref="ApiKeys.Policy"/>
    /// authorization policy (a valid API key when keys are configured). Returns the group, so hosts can add
    /// their own authorization, rate limiting or CORS to all of them.
    /// </summary>
    public static RouteGroupBuilder MapTokenflow(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup(string.Empty);
        group.RequireAuthorization(ApiKeys.Policy);
        group.MapModels();
        group.MapChatCompletions();
        group.MapCompletions();
        group.MapMessages();
        group.MapResponses();
        group.MapStreams();
        group.MapTokenflowWebSocket();
        group.MapTokenflowMcp();
        group.MapDurableStreams();
        return group;
    }
}
