using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Tokenflow.Redis.Tests;

/// <summary>
/// A Tokenflow server as a separate OS process (<c>dotnet Tokenflow.Server.dll</c>) on a loopback
/// port, using Redis as its store — so a test can kill it like a crashed machine.
/// </summary>
internal sealed partial class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _output;

    private ServerProcess(Process process, Uri address, List<string> output)
    {
        _process = process;
        _output = output;
        Address = address;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public Uri Address { get; }

    public HttpClient Client { get; }

    /// <summary>Starts a server on a free port and waits until it listens.</summary>
    public static async Task<ServerProcess> StartAsync(string redisConfiguration, params string[] args)
    {
        var dll = ServerDll();
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string[] all =
        [
            dll, "--urls", "http://127.0.0.1:0", "--Tokenflow:Store", redisConfiguration,
            "--Logging:LogLevel:Default", "Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime", "Information",
            "--Tokenflow:Redis:LeaseTimeout", "00:00:01.500", "--Tokenflow:Redis:PollInterval", "00:00:00.200",
            .. args,
        ];
        foreach (var arg in all)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        ChildProcesses.KillWithThisProcess(process);
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new List<string>();
        DataReceivedEventHandler onLine = (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (output)
            {
                output.Add(e.Data);
                if (output.Count > 200)
                {
                    output.RemoveAt(0);
                }
            }

            if (ListeningLine().Match(e.Data) is { Success: true } match)
            {
                listening.TrySetResult(new Uri(match.Groups[1].Value));
            }
        };
        process.OutputDataReceived += onLine;
        process.ErrorDataReceived += onLine;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _ = process.WaitForExitAsync().ContinueWith(_ => listening.TrySetException(new InvalidOperationException("The server exited: " + string.Join('\n', output))), TaskScheduler.Default);

        try
        {
            var address = await listening.Task.WaitAsync(TimeSpan.FromSeconds(30));
            return new ServerProcess(process, address, output);
        }
        catch
        {
            ChildProcesses.Kill(process);
            throw;
        }
    }

    /// <summary>The process' last lines of output, for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output);
            }
        }
    }

    /// <summary>Sends SIGTERM (what an orchestrator sends to stop a container): the server drains, then exits.</summary>
    public void Terminate()
    {
        if (Kill(_process.Id, 15) != 0)
        {
            throw new InvalidOperationException($"kill(SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    /// <summary>Waits for the process to exit by itself; returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        await _process.WaitForExitAsync().WaitAsync(timeout);
        return _process.ExitCode;
    }

    /// <summary>Kills the process at once (SIGKILL, like <c>kill -9</c>).</summary>
    public void Kill() => ChildProcesses.Kill(_process);

    public ValueTask DisposeAsync()
    {
        Client.Dispose();
        Kill();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>The server's own build output (built by this project's reference), or the copy next to the tests.</summary>
    private static string ServerDll()
    {
        var here = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        var framework = Path.GetFileName(here);
        var configuration = Path.GetFileName(Path.GetDirectoryName(here)!);
        for (var dir = new DirectoryInfo(here); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "src", "Tokenflow.Server", "bin", configuration, framework, "Tokenflow.Server.dll");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return Path.Combine(here, "Tokenflow.Server.dll");
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningLine();
}
