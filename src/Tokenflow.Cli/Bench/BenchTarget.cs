namespace Tokenflow.Cli.Bench;

/// <summary>A target to measure: it opens workers, each of which runs one request at a time.</summary>
internal abstract class BenchTarget : IAsyncDisposable
{
    protected BenchTarget(BenchTargetSpec spec)
    {
        Spec = spec;
    }

    public BenchTargetSpec Spec { get; }

    /// <summary>Opens a worker (a connection, a session or a process), ready for its first request.</summary>
    public abstract Task<BenchWorker> ConnectAsync(CancellationToken cancellationToken);

    public abstract ValueTask DisposeAsync();

    public static BenchTarget Create(BenchTargetSpec spec, BenchSettings settings) => spec.Kind switch
    {
        BenchTargetKind.Mcp or BenchTargetKind.McpStdio => new McpTarget(spec, settings),
        _ => new SseTarget(spec, settings),
    };
}

/// <summary>One request at a time over one connection, session or process.</summary>
internal abstract class BenchWorker : IAsyncDisposable
{
    /// <summary>
    /// Runs one request, reporting to <paramref name="call"/> (already begun) and ending it exactly once:
    /// completed, cancelled, failed, or stopped when <paramref name="cancellationToken"/> ends the run.
    /// </summary>
    public abstract Task CallAsync(CallObserver call, CancellationToken cancellationToken);

    /// <summary>After the last request: lets notifications of the last call still in the client's hands arrive.</summary>
    public virtual Task FinishAsync() => Task.CompletedTask;

    public abstract ValueTask DisposeAsync();
}
