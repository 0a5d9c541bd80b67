namespace Tokenflow.Core.Streams;

/// <summary>A snapshot of a stream's state, as <c>GET /v1/streams/{id}</c> reports it.</summary>
/// <param name="Id">The stream id.</param>
/// <param name="Model">The model generating it.</param>
/// <param name="State">Running or how it ended.</param>
/// <param name="Created">Creation time, Unix seconds.</param>
/// <param name="LastSeq">The seq of its last event (0 when empty).</param>
/// <param name="Usage">Token counts so far (final once ended).</param>
public sealed record StreamStatus(string Id, string Model, StreamState State, long Created, long LastSeq, Usage Usage);
