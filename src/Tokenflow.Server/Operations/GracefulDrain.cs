using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Generation;
using Tokenflow.Server.Hosting;

namespace Tokenflow.Server.Operations;

/// <summary>
/// Drains the server when the host stops (SIGTERM, Ctrl+C): before any service stops, new generations are
/// refused (503) and <c>/readyz</c> turns unhealthy, running generations get up to
/// <see cref="TokenflowOptions.DrainTimeout"/> to finish, and any still running then end with the terminal
/// error <c>server_shutdown</c> — written to the store, so readers here and on other processes (Redis) see it.
/// </summary>
internal sealed partial class GracefulDrain(GenerationRunner runner, IOptions<TokenflowOptions> options, TimeProvider timeProvider, ILogger<GracefulDrain> logger)
    : IHostedLifecycleService, IHealthCheck
{
    // How long the ended generations get to write their terminal events.
    private static readonly TimeSpan EndTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    private volatile bool _draining;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        _draining = true;
        runner.BeginDrain();
        var drain = options.Value.DrainTimeout;
        var running = runner.RunningCount;
        if (running > 0)
        {
            LogDraining(logger, running, drain);
        }

        if (!await WaitIdleAsync(drain, cancellationToken))
        {
            LogEnding(logger, runner.RunningCount);
            runner.EndRunning();
            await WaitIdleAsync(EndTimeout, cancellationToken);
        }
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        => Task.FromResult(_draining ? HealthCheckResult.Unhealthy("The server is draining.") : HealthCheckResult.Healthy("Accepting generations."));

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Polls the runner's count (a shutdown path, not a hot one) until it is zero or <paramref name="timeout"/> passes.</summary>
    private async Task<bool> WaitIdleAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = timeProvider.GetTimestamp();
        using var timer = new PeriodicTimer(PollInterval, timeProvider);
        while (runner.RunningCount > 0)
        {
            if (timeProvider.GetElapsedTime(deadline) >= timeout)
            {
                return false;
            }

            try
            {
                await timer.WaitForNextTickAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Draining: {Running} generations running get up to {DrainTimeout} to finish")]
    private static partial void LogDraining(ILogger logger, int running, TimeSpan drainTimeout);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drain timeout reached: ending {Running} generations with server_shutdown")]
    private static partial void LogEnding(ILogger logger, int running);
}
