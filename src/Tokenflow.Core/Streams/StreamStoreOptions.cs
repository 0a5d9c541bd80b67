using System.ComponentModel.DataAnnotations;

namespace Tokenflow.Core.Streams;

/// <summary>Limits and lifetimes of the stream store. Bound from <c>Tokenflow:Store</c>.</summary>
public sealed class StreamStoreOptions
{
    /// <summary>Most streams running at once; more get 503. Default 4096.</summary>
    [Range(1, int.MaxValue)]
    public int MaxRunningStreams { get; set; } = 4096;

    /// <summary>Most events one stream may hold; a longer generation ends with an error event. Default 1,000,000.</summary>
    [Range(16, int.MaxValue)]
    public int MaxEventsPerStream { get; set; } = 1_000_000;

    /// <summary>Memory budget of all logs (text plus a fixed per-event overhead), in bytes. Default 256 MiB.</summary>
    [Range(1024, long.MaxValue)]
    public long MaxBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>How long a finished stream stays readable. Default 10 minutes.</summary>
    public TimeSpan CompletedTtl { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long a stream keeps running after its last reader leaves. Default 3 seconds.</summary>
    public TimeSpan ResumeGrace { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Retention of streams whose request does not choose one. Default <see cref="StreamRetention.Ttl"/>.</summary>
    public StreamRetention Retention { get; set; } = StreamRetention.Ttl;

    /// <summary>How often expired streams are swept. Default 30 seconds.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(30);
}
