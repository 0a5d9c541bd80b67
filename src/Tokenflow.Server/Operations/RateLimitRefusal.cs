namespace Tokenflow.Server.Operations;

/// <summary>Why a request was refused by a rate limit.</summary>
/// <param name="Limit">Which limit: <c>requests</c> or <c>tokens</c> (the OpenAI error's <c>type</c>).</param>
/// <param name="Message">The error message, naming the limit and when to retry.</param>
/// <param name="RetryAfter">Time until the window ends.</param>
internal sealed record RateLimitRefusal(string Limit, string Message, TimeSpan RetryAfter);
