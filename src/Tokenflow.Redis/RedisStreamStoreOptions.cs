using System.ComponentModel.DataAnnotations;

namespace Tokenflow.Redis;

/// <summary>
/// Settings of the Redis stream store, bound from <c>Tokenflow:Redis</c> (the connection string
/// itself comes from <c>Tokenflow:Store</c>). Stream limits and lifetimes stay in
/// <see cref="Tokenflow.Core.Streams.StreamStoreOptions"/>.
/// </summary>
public sealed class RedisStreamStoreOptions
{
    /// <summary>The configuration section bound to these options.</summary>
    public const string Section = "Tokenflow:Redis";

    /// <summary>StackExchange.Redis configuration string, e.g. <c>localhost:6379</c> or <c>host1:6379,host2:6379,password=…</c>.</summary>
    [Required]
    public string Configuration { get; set; } = string.Empty;

    /// <summary>Prefix of every key and channel, so several deployments can share one Redis. Default <c>tokenflow</c>.</summary>
    [Required]
    public string KeyPrefix { get; set; } = "tokenflow";

    /// <summary>
    /// How long a process' lease lives without renewal (it renews every fifth of this). When the
    /// process that runs a generation dies, readers elsewhere end the stream with an error event
    /// within about this time plus <see cref="PollInterval"/>. Default 5 seconds.
    /// </summary>
    public TimeSpan LeaseTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a reader on another process waits for a notification before it polls the stream
    /// and checks the writer's lease (notifications are pub/sub, so at most once). Default 1 second.
    /// </summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Most events a writer may hold that Redis has not acknowledged yet; past it
    /// <see cref="Tokenflow.Core.Streams.IStreamWriter.FlushAsync"/> waits, so a fast model is
    /// slowed to Redis' pace instead of growing memory. Default 8192.
    /// </summary>
    [Range(16, int.MaxValue)]
    public int MaxPendingEvents { get; set; } = 8192;

    /// <summary>Redis stream entries fetched per <c>XRANGE</c> by a reader on another process (each entry is one batch of events). Default 128.</summary>
    [Range(1, 100_000)]
    public int ReadBatchEntries { get; set; } = 128;

    /// <summary>
    /// Safety expiry of a running stream's keys, renewed by its writer's process every quarter of
    /// it; keys of a writer that vanished without a trace go away after this. Default 1 hour.
    /// </summary>
    public TimeSpan RunningTtl { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long a reader on another process keeps retrying when Redis fails mid-stream before it
    /// ends the stream with a <c>store_unavailable</c> error event. Default 3 seconds.
    /// </summary>
    public TimeSpan ReadRetryTimeout { get; set; } = TimeSpan.FromSeconds(3);
}
