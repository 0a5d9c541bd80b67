namespace Tokenflow.Core.Backends;

/// <summary>
/// A source of tokens: a local model, the simulator or an upstream provider.
/// </summary>
public interface IModelBackend
{
    /// <summary>
    /// Generates tokens for <paramref name="request"/> one piece at a time. Implementations honour
    /// <paramref name="cancellationToken"/> between every token, so a cancelled generation stops
    /// within one token, and end the sequence when the model emits its end-of-text token.
    /// </summary>
    IAsyncEnumerable<TokenPiece> GenerateAsync(BackendRequest request, CancellationToken cancellationToken);
}
