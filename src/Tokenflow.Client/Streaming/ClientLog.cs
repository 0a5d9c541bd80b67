using Microsoft.Extensions.Logging;

namespace Tokenflow.Client;

/// <summary>The client's log messages (source-generated; a null logger costs nothing).</summary>
internal static partial class ClientLog
{
    public static void ConnectionLost(ILogger? logger, string streamId, long lastSeq, string reason)
    {
        if (logger is not null)
        {
            LogConnectionLost(logger, streamId, lastSeq, reason);
        }
    }

    public static void Resumed(ILogger? logger, string streamId, long lastSeq)
    {
        if (logger is not null)
        {
            LogResumed(logger, streamId, lastSeq);
        }
    }

    public static void ReconnectFailed(ILogger? logger, string streamId, string reason)
    {
        if (logger is not null)
        {
            LogReconnectFailed(logger, streamId, reason);
        }
    }

    public static void Cancelled(ILogger? logger, string streamId, int status)
    {
        if (logger is not null)
        {
            LogCancelled(logger, streamId, status);
        }
    }

    public static void CancelFailed(ILogger? logger, string streamId, string reason)
    {
        if (logger is not null)
        {
            LogCancelFailed(logger, streamId, reason);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Stream {StreamId}: connection lost after event {LastSeq} ({Reason}); resuming")]
    private static partial void LogConnectionLost(ILogger logger, string streamId, long lastSeq, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Stream {StreamId}: resumed after event {LastSeq}")]
    private static partial void LogResumed(ILogger logger, string streamId, long lastSeq);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stream {StreamId}: reconnect failed ({Reason})")]
    private static partial void LogReconnectFailed(ILogger logger, string streamId, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Stream {StreamId}: cancelled on the server (HTTP {Status})")]
    private static partial void LogCancelled(ILogger logger, string streamId, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stream {StreamId}: cancel request failed ({Reason}); the server's grace period will stop it")]
    private static partial void LogCancelFailed(ILogger logger, string streamId, string reason);
}
