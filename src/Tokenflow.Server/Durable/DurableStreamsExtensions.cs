using Microsoft.Extensions.DependencyInjection.Extensions;
using Tokenflow.Core.Durable;

namespace Tokenflow.Server.Durable;

/// <summary>Registers and maps the Durable Streams door (<c>/v1/durable/{**path}</c>).</summary>
internal static class DurableStreamsExtensions
{
    /// <summary>Adds the Durable Streams options (<c>Tokenflow:Durable</c>) and the in-memory store unless another (Redis) is registered.</summary>
    public static IServiceCollection AddDurableStreams(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DurableStreamOptions>().Bind(configuration.GetSection(DurableStreamOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<IDurableStreamStore, MemoryDurableStreamStore>();
        return services;
    }

    /// <summary>Maps every method on <c>/v1/durable/{**path}</c>. Returns the endpoint builder so hosts can add auth or rate limits.</summary>
    public static IEndpointConventionBuilder MapDurableStreams(this IEndpointRouteBuilder endpoints)
        => endpoints.Map($"{DurableStreamEndpoints.Prefix}/{{**path}}", DurableStreamEndpoints.HandleAsync);
}
