using Microsoft.Extensions.Diagnostics.HealthChecks;
using Tokenflow.Core.Backends;
using Tokenflow.LlamaCpp;

namespace Tokenflow.Server.Operations;

/// <summary>Ready when every local GGUF model has loaded (and warmed up); the others need no loading.</summary>
internal sealed class ModelsHealthCheck(ModelCatalog catalog) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var loading = catalog.Models.Where(m => m.Backend is LlamaCppBackend { IsLoaded: false }).Select(m => m.Id).ToList();
        return Task.FromResult(loading.Count == 0
            ? HealthCheckResult.Healthy($"{catalog.Models.Count} models ready.")
            : HealthCheckResult.Unhealthy($"Loading: {string.Join(", ", loading)}."));
    }
}
