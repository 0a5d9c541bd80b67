using System.ComponentModel.DataAnnotations;

namespace Tokenflow.Core.Durable;

/// <summary>Limits of the Durable Streams store. Bound from <c>Tokenflow:Durable</c>.</summary>
public sealed class DurableStreamOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Tokenflow:Durable";

    /// <summary>Memory budget of all client-created streams' data, in bytes; appends past it get 503. Default 256 MiB.</summary>
    [Range(1024, long.MaxValue)]
    public long MaxBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Most client-created streams at once; more creates get 503. Default 10,000.</summary>
    [Range(1, int.MaxValue)]
    public int MaxStreams { get; set; } = 10_000;

    /// <summary>Largest request body one append or create may carry; larger gets 413. Default 8 MiB.</summary>
    [Range(1, int.MaxValue)]
    public int MaxMessageBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>Most bytes one catch-up or long-poll response carries; the rest follows on the next read. Default 1 MiB.</summary>
    [Range(1024, int.MaxValue)]
    public int MaxReadBytes { get; set; } = 1024 * 1024;

    /// <summary>Longest a stream path may be, in characters. Default 1024.</summary>
    [Range(1, 8192)]
    public int MaxPathLength { get; set; } = 1024;

    /// <summary>
    /// How long a long-poll read waits for data before answering 204. Default 3 seconds: the conformance suite
    /// runs some long-polls on idle streams under vitest's 5-second test timeout.
    /// </summary>
    public TimeSpan LongPollTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How often a shared store (Redis) sweeps streams whose TTL or expiry passed while nobody touched them, so its
    /// budgets free up; the memory store retires them on access and when full. Default 5 seconds.
    /// </summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long one SSE response stays open before the server closes it so clients reconnect (protocol §10.2). Default 60 seconds.</summary>
    public TimeSpan SseConnectionLifetime { get; set; } = TimeSpan.FromSeconds(60);
}
