using Tokenflow.Core.Backends;
using Tokenflow.Core.Generation;

namespace Tokenflow.Server.Responses;

/// <summary>A Responses request that passed validation.</summary>
internal sealed record ResponsesRequest(ModelEntry Model, BackendRequest Backend, GenerationOptions Generation, bool Stream)
{
    /// <summary>The stream metadata that makes a stream a response (replayed in the Responses framing).</summary>
    public const string Metadata = "responses";

    /// <summary>The model input (<see cref="BackendRequest.Messages"/>): instructions, then the conversation.</summary>
    public List<ChatMessage> Messages { get; init; } = [];

    /// <summary>Where the conversation starts in <see cref="Messages"/> (after the instructions, not carried over).</summary>
    public int InputStart { get; init; }

    /// <summary>The response this one continues (<c>previous_response_id</c>), or null.</summary>
    public string? PreviousResponseId { get; init; }

    /// <summary><c>store</c>: false keeps neither the conversation nor the response for retrieval.</summary>
    public bool Store { get; init; } = true;
}
