using Tokenflow.Core.Streams;

namespace Tokenflow.Core.Backends;

/// <summary>
/// Thrown by a backend whose failure has a client-facing form: an upstream's rate limit, a request
/// the provider rejected, a dead upstream. The generation ends the stream with <see cref="Error"/>
/// (its <see cref="StreamError.Status"/> and <see cref="StreamError.RetryAfter"/> reach the client
/// when nothing was streamed yet) instead of a generic backend failure.
/// </summary>
public sealed class ModelBackendException : Exception
{
    /// <summary>Creates the exception for <paramref name="error"/>.</summary>
    public ModelBackendException(StreamError error, Exception? innerException = null)
        : base(error.Message, innerException)
        => Error = error;

    /// <summary>The error the stream ends with.</summary>
    public StreamError Error { get; }
}
