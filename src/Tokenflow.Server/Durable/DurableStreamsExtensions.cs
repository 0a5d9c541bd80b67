using Microsoft.Extensions.DependencyInjection.Extensions;
using Tokenflow.Core.Durable;

namespace Tokenflow.Server.Durable;

/// <summary>Registers and maps the Durable Streams door (<c>/v1/durable/{**path}</c>).</summary>
internal static class DurableStreamsExtensions
{
    /// <summary>The CORS policy of the durable endpoints: any origin, the protocol's methods and headers, preflights cached for a day.</summary>
    public const string CorsPolicy = "Tokenflow.DurableStreams";

    /// <summary>
    /// Adds the Durable Streams options (<c>Tokenflow:Durable</c>), the in-memory store unless another (Redis) is
    /// registered, and the <see cref="CorsPolicy"/> CORS policy (applied by the host's <c>UseCors()</c>).
    /// </summary>
    public static IServiceCollection AddDurableStreams(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DurableStreamOptions>().Bind(configuration.GetSection(DurableStreamOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<IDurableStreamStore, MemoryDurableStreamStore>();
        services.AddCors(cors => cors.AddPolicy(CorsPolicy, policy => policy
            .AllowAnyOrigin()
            .WithMethods("GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS")
            .WithHeaders(DurableHeaders.Allowed)
            .WithExposedHeaders(DurableHeaders.Exposed)
            .SetPreflightMaxAge(TimeSpan.FromDays(1))));
        return services;
    }

    /// <summary>Maps every method on <c>/v1/durable/{**path}</c>, under the <see cref="CorsPolicy"/> policy. Returns the endpoint builder so hosts can add auth or rate limits.</summary>
    public static IEndpointConventionBuilder MapDurableStreams(this IEndpointRouteBuilder endpoints)
        => endpoints.Map($"{DurableStreamEndpoints.Prefix}/{{**path}}", DurableStreamEndpoints.HandleAsync).RequireCors(CorsPolicy);
}
