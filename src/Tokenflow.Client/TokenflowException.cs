namespace Tokenflow.Client;

/// <summary>
/// A failure reported by the server (an OpenAI error object, before or during a stream), or a stream that
/// could not be resumed within the retry budget.
/// </summary>
public sealed class TokenflowException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    public TokenflowException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public TokenflowException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the failure that caused it.</summary>
    public TokenflowException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The HTTP status of the error response; null for errors inside a stream and lost connections.</summary>
    public int? StatusCode { get; init; }

    /// <summary>The OpenAI error <c>type</c> (<c>invalid_request_error</c>, <c>server_error</c>, …).</summary>
    public string? ErrorType { get; init; }

    /// <summary>The OpenAI error <c>code</c> (<c>model_not_found</c>, <c>stream_not_found</c>, …).</summary>
    public string? Code { get; init; }

    /// <summary>The request field the error is about, when the server names one.</summary>
    public string? Param { get; init; }

    /// <summary>The stream the error belongs to, when known.</summary>
    public string? StreamId { get; init; }
}
