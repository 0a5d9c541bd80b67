namespace Tokenflow.Core.Backends;

/// <summary>A model the server serves: its public id, owner label and the backend that runs it.</summary>
/// <param name="Id">The id clients put in <c>model</c>.</param>
/// <param name="OwnedBy">The <c>owned_by</c> label of <c>/v1/models</c>.</param>
/// <param name="Backend">The backend that generates for this model.</param>
public sealed record ModelEntry(string Id, string OwnedBy, IModelBackend Backend)
{
    /// <summary>Creation time reported by <c>/v1/models</c>, Unix seconds.</summary>
    public long Created { get; init; } = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>The model's context window in tokens, when known (0 = unknown).</summary>
    public int ContextLength { get; init; }

    /// <summary>
    /// True when the backend enforces <see cref="BackendRequest.MaxTokens"/> itself and its pieces are
    /// chunks rather than single tokens (upstream providers, an <c>IChatClient</c>): the generation then
    /// does not end the output after MaxTokens pieces, and MaxTokens 0 means the backend's own default.
    /// </summary>
    public bool BackendLimitsTokens { get; init; }
}
