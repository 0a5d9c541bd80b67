using System.Runtime.InteropServices;
using System.Text;
using LLama.Native;
using Microsoft.Extensions.Logging;

namespace Tokenflow.LlamaCpp.Native;

/// <summary>
/// Prepares the process for llama.cpp's native libraries, once, before they load: OpenMP's wait
/// policy and llama.cpp's log output.
/// </summary>
internal static class LlamaNativeRuntime
{
    private static readonly Lock Gate = new();
    private static bool _initialized;

    // Kept in a static so the delegate handed to native code is never collected.
    private static NativeLogConfig.LLamaLogCallback? _logCallback;

    [ThreadStatic]
    private static StringBuilder? _pendingLine;

    [ThreadStatic]
    private static LLamaLogLevel _pendingLevel;

    /// <summary>
    /// Sets <c>OMP_WAIT_POLICY=PASSIVE</c> in the native environment (unless already set), routes
    /// llama.cpp's log through <paramref name="loggerFactory"/> at Debug level and, if the native library
    /// has not loaded yet, picks its CPU build (<see cref="LlamaCppOptions.CpuBuild"/>). Only the first call
    /// has an effect: the log callback and the loaded library are process-wide.
    /// </summary>
    public static void EnsureInitialized(ILoggerFactory loggerFactory, string cpuBuild = "auto")
    {
        lock (Gate)
        {
            if (_initialized)
            {
                return;
            }

            // libgomp reads OMP_WAIT_POLICY once, when libggml-cpu (which links it) is loaded. Its default,
            // ACTIVE, spins idle OpenMP threads for a while after each parallel region: between tokens they
            // burn the cores that the next decode (and Kestrel) needs, and the first token took 2.5 s in
            // measurements on 2 cores. Environment.SetEnvironmentVariable only changes .NET's own copy of
            // the environment on Unix, so the native one is changed through libc.
            SetNativeEnvironmentDefault("OMP_WAIT_POLICY", "PASSIVE");

            var logger = loggerFactory.CreateLogger("LLama.Native");
            _logCallback = (level, message) => Log(logger, level, message);
            if (NativeLibraryConfig.LLama.LibraryHasLoaded)
            {
                NativeLogConfig.llama_log_set(_logCallback);
            }
            else
            {
                // Also receives LLamaSharp's messages about which native build it picks.
                NativeLibraryConfig.All.WithLogCallback(_logCallback);
                if (LlamaCppOptions.ResolveCpuBuild(cpuBuild, System.Runtime.Intrinsics.X86.Avx2.IsSupported) is { } level)
                {
                    NativeLibraryConfig.All.WithAvx(level);
                }
            }

            _initialized = true;
        }
    }

    /// <summary>Reads a variable from the native (libc) environment; null when unset. For tests.</summary>
    internal static unsafe string? GetNativeEnvironmentVariable(string name)
    {
        if (OperatingSystem.IsWindows())
        {
            return Environment.GetEnvironmentVariable(name);
        }

        if (!NativeLibrary.TryGetExport(NativeLibrary.GetMainProgramHandle(), "getenv", out var getenv))
        {
            return null;
        }

        var nameBytes = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* n = nameBytes)
        {
            var value = ((delegate* unmanaged<byte*, byte*>)getenv)(n);
            return value == null ? null : Marshal.PtrToStringUTF8((nint)value);
        }
    }

    private static unsafe void SetNativeEnvironmentDefault(string name, string value)
    {
        if (Environment.GetEnvironmentVariable(name) is null)
        {
            Environment.SetEnvironmentVariable(name, value);
        }

        if (OperatingSystem.IsWindows()
            || !NativeLibrary.TryGetExport(NativeLibrary.GetMainProgramHandle(), "setenv", out var setenv))
        {
            return;
        }

        var nameBytes = Encoding.UTF8.GetBytes(name + "\0");
        var valueBytes = Encoding.UTF8.GetBytes(value + "\0");
        fixed (byte* n = nameBytes, v = valueBytes)
        {
            // overwrite = 0: a value the operator exported wins.
            _ = ((delegate* unmanaged<byte*, byte*, int, int>)setenv)(n, v, 0);
        }
    }

    private static void Log(ILogger logger, LLamaLogLevel level, string message)
    {
        // llama.cpp sends a line in several calls (level Continue for the later parts); log whole lines.
        var line = _pendingLine ??= new StringBuilder();
        if (level != LLamaLogLevel.Continue)
        {
            _pendingLevel = level;
        }

        line.Append(message);
        if (!message.EndsWith('\n'))
        {
            return;
        }

        line.Length--;
        var text = line.ToString();
        line.Clear();

        // Everything llama.cpp says in normal operation (including its warnings about unused context)
        // is detail; only its errors are worth more than Debug. Failures reach callers as exceptions.
        var logLevel = _pendingLevel == LLamaLogLevel.Error ? LogLevel.Warning : LogLevel.Debug;
        if (logger.IsEnabled(logLevel))
        {
            logger.Log(logLevel, "{NativeMessage}", text);
        }
    }
}
