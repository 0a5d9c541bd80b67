namespace Tokenflow.LlamaCpp;

/// <summary>
/// A model download failed: the server could not be reached, stalled, or answered with an error. A
/// partly downloaded file is kept next to the cache entry (<c>.part</c>) and the next attempt resumes it.
/// </summary>
public class ModelDownloadException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ModelDownloadException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public ModelDownloadException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public ModelDownloadException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The address that was requested, when known.</summary>
    public Uri? RequestUri { get; init; }

    /// <summary>The HTTP status the server answered with, when it answered.</summary>
    public int? StatusCode { get; init; }
}
