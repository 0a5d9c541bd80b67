using Tokenflow.Core.Backends;
using Tokenflow.Core.Generation;

namespace Tokenflow.Server.Anthropic;

/// <summary>A Messages request that passed validation.</summary>
internal sealed record MessagesRequest(ModelEntry Model, BackendRequest Backend, GenerationOptions Generation, bool Stream)
{
    /// <summary>The stream metadata that makes <c>/v1/streams/{id}/events</c> replay in Anthropic's framing.</summary>
    public const string Metadata = "anthropic";
}
