namespace Tokenflow.LlamaCpp;

/// <summary>The server has no such model file (HTTP 404): the repository or file name is wrong.</summary>
public sealed class ModelNotFoundException : ModelDownloadException
{
    /// <summary>Creates the exception.</summary>
    public ModelNotFoundException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public ModelNotFoundException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public ModelNotFoundException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
