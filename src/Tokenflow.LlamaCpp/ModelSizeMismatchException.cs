namespace Tokenflow.LlamaCpp;

/// <summary>
/// The downloaded file does not have the size the server announced (<c>Content-Length</c> or the total of
/// <c>Content-Range</c>): the body ended early or ran long. No file is placed in the cache.
/// </summary>
public sealed class ModelSizeMismatchException : ModelDownloadException
{
    /// <summary>Creates the exception.</summary>
    public ModelSizeMismatchException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public ModelSizeMismatchException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public ModelSizeMismatchException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The size the server announced, in bytes.</summary>
    public long ExpectedBytes { get; init; }

    /// <summary>The size actually received (including a resumed part), in bytes.</summary>
    public long ActualBytes { get; init; }
}
