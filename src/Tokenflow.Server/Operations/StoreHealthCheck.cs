using Microsoft.Extensions.Diagnostics.HealthChecks;
using Tokenflow.Core.Streams;

namespace Tokenflow.Server.Operations;

/// <summary>Ready when the stream store answers a lookup (memory: always; Redis: when it is reachable).</summary>
internal sealed class StoreHealthCheck(IStreamStore store) : IHealthCheck
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            // Any id will do: the answer (none) needs a round trip to the store.
            await store.GetStatusAsync("chatcmpl-readyz", timeout.Token).AsTask().WaitAsync(timeout.Token);
            return HealthCheckResult.Healthy("The stream store answers.");
        }
        catch (StreamStoreUnavailableException ex)
        {
            return HealthCheckResult.Unhealthy("The stream store is unavailable.", ex);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"The stream store did not answer within {Timeout.TotalSeconds:0} s.");
        }
    }
}
