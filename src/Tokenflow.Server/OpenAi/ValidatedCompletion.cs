using Tokenflow.Core.Backends;
using Tokenflow.Core.Generation;

namespace Tokenflow.Server.OpenAi;

/// <summary>A request that passed validation: everything needed to start and serve its generation.</summary>
internal sealed record ValidatedCompletion(
    CompletionKind Kind,
    ModelEntry Model,
    BackendRequest Backend,
    GenerationOptions Generation,
    bool Stream,
    bool IncludeUsage)
{
    /// <summary><c>stream_options.partial_json</c>: chunks carry the JSON value parsed so far.</summary>
    public bool PartialJson { get; init; }
}
