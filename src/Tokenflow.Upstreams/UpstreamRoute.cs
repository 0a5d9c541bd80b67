namespace Tokenflow.Upstreams;

/// <summary>One place a routed model id can be served: an upstream and the model id sent to it.</summary>
/// <param name="Upstream">The upstream.</param>
/// <param name="ModelId">The id sent on (the part after <c>&lt;name&gt;/</c>, or the bare id).</param>
internal sealed record UpstreamRoute(Upstream Upstream, string ModelId);
