namespace Tokenflow.Core.Streams;

/// <summary>Latency figures of one generation, in milliseconds.</summary>
/// <param name="TimeToFirstTokenMs">From the generation's start to the backend's first token (0 if none).</param>
/// <param name="TimePerOutputTokenMs">Mean time between tokens after the first (0 with fewer than two tokens).</param>
public readonly record struct Timings(double TimeToFirstTokenMs, double TimePerOutputTokenMs);
