namespace Tokenflow.Core.Streams;

/// <summary>An error carried by a terminal <see cref="StreamEventKind.Error"/> event, in OpenAI's shape.</summary>
/// <param name="Message">Human-readable description.</param>
/// <param name="Type">OpenAI error type, e.g. "server_error".</param>
/// <param name="Code">Machine-readable code, e.g. "backend_failed".</param>
public sealed record StreamError(string Message, string Type, string? Code)
{
    /// <summary>
    /// The HTTP status a door answers with when the error comes before any output (an upstream's
    /// 429 or 400, passed on); 0 = the door's default for a failed generation.
    /// </summary>
    public int Status { get; init; }

    /// <summary>How long the client should wait before retrying (an upstream's <c>Retry-After</c>), when known.</summary>
    public TimeSpan? RetryAfter { get; init; }
}
