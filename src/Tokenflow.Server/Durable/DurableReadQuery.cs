namespace Tokenflow.Server.Durable;

/// <summary>A parsed read request: where to start, how to follow, and the client's cursor.</summary>
/// <param name="Position">The start position; null = the tail (<c>offset=now</c>).</param>
/// <param name="Live">Catch-up, long-poll or SSE.</param>
/// <param name="ClientCursor">The <c>cursor</c> query parameter, when it is a number (§10.1).</param>
internal readonly record struct DurableReadQuery(long? Position, DurableLiveMode Live, long? ClientCursor);
