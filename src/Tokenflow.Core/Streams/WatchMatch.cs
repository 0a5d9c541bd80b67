namespace Tokenflow.Core.Streams;

/// <summary>
/// A watch that fired (DESIGN.md "Watches"): the payload of a <see cref="StreamEventKind.Watch"/> event.
/// </summary>
/// <param name="WatchId">The id the client gave the watch.</param>
/// <param name="Seq">The seq of the delta event that completed the match.</param>
/// <param name="MatchJson">The match as JSON: a string for a regex match, the completed value for a JSON path.</param>
public sealed record WatchMatch(string WatchId, long Seq, string MatchJson);
