using Tokenflow.Core.Backends;
using Tokenflow.Core.Generation;

namespace Tokenflow.Server.Responses;

/// <summary>A Responses request that passed validation.</summary>
internal sealed record ResponsesRequest(ModelEntry Model, BackendRequest Backend, GenerationOptions Generation, bool Stream)
{
    /// <summary>The stream metadata that makes a stream a response (replayed in the Responses framing).</summary>
    public const string Metadata = "responses";
}
