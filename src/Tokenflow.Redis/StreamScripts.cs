namespace Tokenflow.Redis;

/// <summary>
/// The Lua scripts of the store. Each touches only one stream's keys (one hash-tag slot), so they
/// run atomically on a single node of a Redis Cluster. StackExchange.Redis sends them by SHA and
/// reloads them after a Redis restart.
/// </summary>
internal static class StreamScripts
{
    /// <summary>KEYS: meta, events. ARGV: ttl ms, then field/value pairs. Returns 1, or 0 when the id exists.</summary>
    public const string Create = """
        if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
        redis.call('DEL', KEYS[2])
        redis.call('HSET', KEYS[1], unpack(ARGV, 2))
        redis.call('XADD', KEYS[2], '0-1', 'b', '')
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        redis.call('PEXPIRE', KEYS[2], ARGV[1])
        return 1
        """;

    /// <summary>
    /// The writer's last batch. KEYS: meta, events. ARGV: entry id, batch, state, last seq,
    /// prompt tokens, completion tokens, ttl ms, writer node, notify channel. Returns 1, or 0 when
    /// the stream is gone or no longer this writer's (ended by a reader that found the writer dead).
    /// </summary>
    public const string Finish = """
        if redis.call('HGET', KEYS[1], 'node') ~= ARGV[8] or redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
        redis.call('XADD', KEYS[2], 'NOMKSTREAM', ARGV[1], 'b', ARGV[2])
        redis.call('HSET', KEYS[1], 'state', ARGV[3], 'last', ARGV[4], 'pt', ARGV[5], 'ct', ARGV[6])
        redis.call('PEXPIRE', KEYS[1], ARGV[7])
        redis.call('PEXPIRE', KEYS[2], ARGV[7])
        redis.call('PUBLISH', ARGV[9], ARGV[4])
        return 1
        """;

    /// <summary>
    /// Ends a stream whose writer's process is gone with an error event after its last event.
    /// KEYS: meta, events. ARGV: the dead writer's node, error batch, ttl ms, notify channel.
    /// Returns the error event's seq, or 0 when the stream is not running on that node any more.
    /// </summary>
    public const string Abandon = """
        if redis.call('HGET', KEYS[1], 'state') ~= 'running' or redis.call('HGET', KEYS[1], 'node') ~= ARGV[1] then return 0 end
        local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
        local seq = 1
        if #last > 0 then seq = tonumber(string.match(last[1][1], '^(%d+)')) + 1 end
        redis.call('XADD', KEYS[2], 'NOMKSTREAM', string.format('%d-0', seq), 'b', ARGV[2])
        redis.call('HSET', KEYS[1], 'state', 'failed', 'last', seq)
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        redis.call('PEXPIRE', KEYS[2], ARGV[3])
        redis.call('PUBLISH', ARGV[4], seq)
        return seq
        """;

    /// <summary>Counts a reader on a node and returns the meta hash, or nil when the stream is unknown. KEYS: meta. ARGV: reader field.</summary>
    public const string OpenReader = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return false end
        redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
        return redis.call('HGETALL', KEYS[1])
        """;

    /// <summary>
    /// Uncounts a reader; when its node has none left, tells the writer's node (control channel)
    /// so it can start the grace period. KEYS: meta. ARGV: reader field, control channel prefix, message.
    /// </summary>
    public const string CloseReader = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
        if n <= 0 then
          redis.call('HDEL', KEYS[1], ARGV[1])
          local s = redis.call('HMGET', KEYS[1], 'state', 'node')
          if s[1] == 'running' and s[2] then redis.call('PUBLISH', ARGV[2] .. s[2], ARGV[3]) end
        end
        return n
        """;

    /// <summary>
    /// Retention "none": drops the entries whose events are all before ARGV[1] and records that
    /// seq as the first held, unless a reader on some process is counted (its position is not
    /// known here). KEYS: meta, events. ARGV: first seq still held. Returns 1 when trimmed.
    /// </summary>
    public const string Trim = """
        local fields = redis.call('HGETALL', KEYS[1])
        if #fields == 0 then return 0 end
        for i = 1, #fields, 2 do
          if string.sub(fields[i], 1, 2) == 'r:' and tonumber(fields[i + 1]) > 0 then return 0 end
        end
        redis.call('XTRIM', KEYS[2], 'MINID', ARGV[1] .. '-0')
        redis.call('HSET', KEYS[1], 'held', ARGV[1])
        return 1
        """;
}
