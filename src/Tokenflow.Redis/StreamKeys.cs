using StackExchange.Redis;

namespace Tokenflow.Redis;

/// <summary>
/// Key and channel names of one stream. The stream id sits in a hash tag (<c>{id}</c>) so all of
/// a stream's keys map to one Redis Cluster slot: its scripts touch them atomically, and
/// streams spread over the cluster by id.
/// </summary>
internal sealed class StreamKeys
{
    public StreamKeys(string prefix, string id)
    {
        Id = id;
        var tag = $"{prefix}:{{{id}}}";
        Meta = tag + ":m";
        Events = tag + ":e";
        Notify = RedisChannel.Literal(tag + ":n");
    }

    public string Id { get; }

    /// <summary>Hash: descriptor fields, state, final usage and last seq, the writer's node, reader counts per node (<c>r:&lt;node&gt;</c>).</summary>
    public RedisKey Meta { get; }

    /// <summary>Stream: entry <c>0-1</c> materializes the key; every other entry is a batch of events whose id is <c>&lt;seq of its last event&gt;-0</c>.</summary>
    public RedisKey Events { get; }

    /// <summary>Pub/sub channel: the writer publishes the last seq Redis holds after each batch.</summary>
    public RedisChannel Notify { get; }

    /// <summary>The lease key of a process: present while the process is alive.</summary>
    public static RedisKey Lease(string prefix, string node) => $"{prefix}:node:{node}";

    /// <summary>The control channel of a process: cancel and idle messages for the streams it writes.</summary>
    public static RedisChannel Control(string prefix, string node) => RedisChannel.Literal($"{prefix}:ctl:{node}");
}
