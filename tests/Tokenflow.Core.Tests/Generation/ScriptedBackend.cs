using System.Runtime.CompilerServices;
using Tokenflow.Core.Backends;

namespace Tokenflow.Core.Tests.Generation;

/// <summary>A backend that yields fixed pieces and then ends, as a model does when it emits end-of-text.</summary>
internal sealed class ScriptedBackend(params byte[][] pieces) : IModelBackend
{
    public async IAsyncEnumerable<TokenPiece> GenerateAsync(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        request.PromptTokens = 1;
        foreach (var piece in pieces)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Task.Yield();
            yield return new TokenPiece(piece);
        }
    }
}
