using Microsoft.Extensions.Logging;

namespace Tokenflow.Client;

/// <summary>
/// Settings of a <see cref="TokenflowClient"/> or <see cref="TokenflowWebSocketClient"/>: credentials and
/// the resume policy used when a connection drops in the middle of a stream.
/// </summary>
public sealed class TokenflowClientOptions
{
    /// <summary>Sent as <c>Authorization: Bearer</c> when set. Default: none.</summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// How many reconnects in a row may fail (no new event received) before the stream gives up with a
    /// <see cref="TokenflowException"/>. A reconnect that delivers at least one new event resets the count.
    /// Zero turns transparent resume off. Default 5.
    /// </summary>
    public int MaxResumeAttempts { get; set; } = 5;

    /// <summary>Wait before the first reconnect; it doubles (with ±20% jitter) on each failed attempt. Default 100 ms.</summary>
    public TimeSpan ResumeBackoff { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Upper bound of the wait between reconnects. Default 2 seconds.</summary>
    public TimeSpan MaxResumeBackoff { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// A connection that delivers no byte for this long counts as dropped and is resumed. Tokenflow sends a
    /// heartbeat comment after 15 s of silence, so the default of 45 seconds only fires on a dead connection.
    /// <see cref="Timeout.InfiniteTimeSpan"/> turns the check off.
    /// </summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>
    /// When true (the default), a stream that the caller stops reading before its end — by cancelling the
    /// token or leaving the <c>await foreach</c> early — is cancelled on the server
    /// (<c>POST /v1/streams/{id}/cancel</c>), so the model stops at once. Requests with
    /// <see cref="ChatRequest.Background"/> set are never cancelled this way.
    /// </summary>
    public bool CancelOnAbandon { get; set; } = true;

    /// <summary>Receives reconnects and failed cancels. Default: none.</summary>
    public ILogger? Logger { get; set; }
}
