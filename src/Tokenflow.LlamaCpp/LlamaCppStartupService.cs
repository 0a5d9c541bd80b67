using Microsoft.Extensions.Hosting;

namespace Tokenflow.LlamaCpp;

/// <summary>
/// Starts loading (and warming up) a <see cref="LlamaCppBackend"/> when the host starts, without holding
/// up the start: requests that arrive before the model is ready wait for it. A missing local model file
/// fails the start at once.
/// </summary>
internal sealed class LlamaCppStartupService(LlamaCppBackend backend) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        backend.Model.ThrowIfLocalFileMissing();

        // The backend logs a failed load once; requests see the failure (and retry the load) themselves.
        _ = backend.LoadAsync(CancellationToken.None).ContinueWith(
            static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
