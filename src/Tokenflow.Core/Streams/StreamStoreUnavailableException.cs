namespace Tokenflow.Core.Streams;

/// <summary>
/// Thrown by a store whose backing service (e.g. Redis) cannot be reached. Adapters answer it with
/// 503 before a response starts, or a terminal error event after.
/// </summary>
public sealed class StreamStoreUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public StreamStoreUnavailableException()
        : base("The stream store is unavailable.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public StreamStoreUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the store's own error.</summary>
    public StreamStoreUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
