using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Sim;
using Tokenflow.Core.Streams;

namespace Tokenflow.Core.Generation;

/// <summary>Registers the stream core in a service collection.</summary>
public static class TokenflowCoreServiceCollectionExtensions
{
    /// <summary>The configuration section hosts bind <see cref="StreamStoreOptions"/> from.</summary>
    public const string StreamsSection = "Tokenflow:Streams";

    /// <summary>
    /// Adds the memory stream store, the generation runner, the model catalog and the <c>sim</c> model,
    /// and validates <see cref="StreamStoreOptions"/> at start-up. Another store (e.g. <c>.AddRedisStore(…)</c>
    /// on the returned builder) replaces the memory store whether it is added before or after this call.
    /// Calling this again returns a builder over the same registrations.
    /// </summary>
    public static ITokenflowBuilder AddTokenflowCore(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<StreamStoreOptions>().ValidateDataAnnotations().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<StreamStoreOptions>, StreamStoreOptionsValidation>());
        services.TryAddSingleton<MemoryStreamStore>();
        services.TryAddSingleton<IStreamStore>(sp => sp.GetRequiredService<MemoryStreamStore>());
        services.TryAddSingleton<StreamAccess>();
        services.TryAddSingleton<GenerationRunner>();
        services.TryAddSingleton<SimBackend>();
        if (!services.Any(d => d.ServiceType == typeof(SimModelMarker)))
        {
            services.AddSingleton<SimModelMarker>();
            services.AddSingleton(sp => new ModelEntry(SimBackend.ModelId, "tokenflow", sp.GetRequiredService<SimBackend>()));
        }

        // Models in registration order, the built-in sim last, however the builder calls were ordered.
        services.TryAddSingleton(sp => new ModelCatalog(sp.GetServices<ModelEntry>().OrderBy(e => e.Backend is SimBackend ? 1 : 0), sp.GetServices<IModelRouter>()));
        return new TokenflowBuilder(services);
    }

    private sealed class TokenflowBuilder(IServiceCollection services) : ITokenflowBuilder
    {
        public IServiceCollection Services { get; } = services;
    }

    /// <summary>Present once the <c>sim</c> model entry is registered, so a second call does not list it twice.</summary>
    private sealed class SimModelMarker;
}
