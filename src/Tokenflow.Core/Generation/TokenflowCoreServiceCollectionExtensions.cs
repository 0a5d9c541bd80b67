using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Sim;
using Tokenflow.Core.Streams;

namespace Tokenflow.Core.Generation;

/// <summary>Registers the stream core in a service collection.</summary>
public static class TokenflowCoreServiceCollectionExtensions
{
    /// <summary>
    /// Adds the memory stream store (unless another <see cref="IStreamStore"/> is registered), the
    /// generation runner, the model catalog and the <c>sim</c> model.
    /// </summary>
    public static IServiceCollection AddTokenflowCore(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<StreamStoreOptions>().ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<MemoryStreamStore>();
        services.TryAddSingleton<IStreamStore>(sp => sp.GetRequiredService<MemoryStreamStore>());
        services.TryAddSingleton<GenerationRunner>();
        services.TryAddSingleton<SimBackend>();
        services.AddSingleton(sp => new ModelEntry(SimBackend.ModelId, "tokenflow", sp.GetRequiredService<SimBackend>()));
        services.TryAddSingleton(sp => new ModelCatalog(sp.GetServices<ModelEntry>()));
        return services;
    }
}
