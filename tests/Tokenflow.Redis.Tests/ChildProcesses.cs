using System.Diagnostics;

namespace Tokenflow.Redis.Tests;

/// <summary>
/// Makes sure the processes a test run starts (redis-server, server processes) die with it, even
/// when the test host itself is killed and its exit handlers never run.
/// </summary>
internal static class ChildProcesses
{
    /// <summary>Starts a watchdog that SIGKILLs <paramref name="child"/> once this process is gone; it exits by itself when the child does.</summary>
    public static void KillWithThisProcess(Process child)
    {
        var watchdog = new ProcessStartInfo("sh")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        watchdog.ArgumentList.Add("-c");
        watchdog.ArgumentList.Add($"while kill -0 {Environment.ProcessId} 2>/dev/null && kill -0 {child.Id} 2>/dev/null; do sleep 1; done; kill -9 {child.Id} 2>/dev/null; true");
        using var _ = Process.Start(watchdog);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Kill(child);
    }

    public static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }
}
