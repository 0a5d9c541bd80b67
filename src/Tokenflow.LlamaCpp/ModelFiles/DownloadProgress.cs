using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Tokenflow.LlamaCpp.ModelFiles;

/// <summary>
/// Shows how a download goes: a progress bar redrawn in place on stderr when stderr is a terminal
/// (percent, MB, MB/s), otherwise a log line every 10 %.
/// </summary>
internal sealed partial class DownloadProgress
{
    private const double Megabyte = 1024 * 1024;
    private static readonly long RedrawInterval = Stopwatch.Frequency / 10;

    private readonly string _name;
    private readonly long _resumedFrom;
    private readonly long? _total;
    private readonly ILogger _logger;
    private readonly bool _interactive;
    private readonly long _startedAt = Stopwatch.GetTimestamp();
    private long _lastDrawnAt;
    private int _lastLoggedDecile;

    public DownloadProgress(string name, long resumedFrom, long? total, ILogger logger, bool interactive)
    {
        _name = name;
        _resumedFrom = resumedFrom;
        _total = total;
        _logger = logger;
        _interactive = interactive;
        _lastLoggedDecile = total is > 0 ? (int)(resumedFrom * 10 / total.Value) : 0;
    }

    /// <summary>True when stderr is a terminal a progress bar can be drawn on.</summary>
    public static bool StderrIsTerminal => !Console.IsErrorRedirected;

    /// <summary>Reports that <paramref name="done"/> bytes of the file are on disk.</summary>
    public void Report(long done)
    {
        if (_interactive)
        {
            var now = Stopwatch.GetTimestamp();
            if (now - _lastDrawnAt >= RedrawInterval)
            {
                _lastDrawnAt = now;
                Console.Error.Write("\r" + Line(done) + "   ");
            }

            return;
        }

        if (_total is > 0 && done * 10 / _total.Value is var decile && decile > _lastLoggedDecile && decile < 10)
        {
            _lastLoggedDecile = (int)decile;
            LogProgress(_logger, Line(done));
        }
    }

    /// <summary>Ends the bar (or logs the last line) after the last byte or a failure.</summary>
    public void Finish(long done)
    {
        if (_interactive)
        {
            Console.Error.WriteLine("\r" + Line(done) + "   ");
        }
    }

    private string Line(long done)
    {
        var seconds = Math.Max(Stopwatch.GetElapsedTime(_startedAt).TotalSeconds, 1e-3);
        var rate = (done - _resumedFrom) / Megabyte / seconds;
        return _total is > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{_name}: {done * 100.0 / _total.Value,5:0.0}% {done / Megabyte:0.0}/{_total.Value / Megabyte:0.0} MB {rate:0.0} MB/s")
            : string.Create(CultureInfo.InvariantCulture, $"{_name}: {done / Megabyte:0.0} MB {rate:0.0} MB/s");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Downloading {Progress}")]
    private static partial void LogProgress(ILogger logger, string progress);
}
