using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using Tokenflow.Core.Streams;

namespace Tokenflow.Redis;

/// <summary>
/// Fixed-window rate-limit counters in the Redis of the stream store, so every server process sharing it
/// counts against the same limits. One key per partition and window (<c>{prefix}rl:{name}</c>), expiring
/// with its window. Thread-safe.
/// </summary>
public sealed class RedisRateLimitCounter
{
    // INCRBY, then set the expiry the first time (the value equals the amount; an amount of 0 reads).
    private const string AddScript = """
        local v = redis.call('INCRBY', KEYS[1], ARGV[1])
        if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        return v
        """;

    private readonly RedisStreamStore _store;

    private RedisRateLimitCounter(RedisStreamStore store) => _store = store;

    /// <summary>The counter over the Redis store registered in <paramref name="services"/>, or null when the store is not Redis.</summary>
    public static RedisRateLimitCounter? From(IServiceProvider services)
        => services.GetService<RedisStreamStore>() is { } store && services.GetService<IStreamStore>() == store ? new RedisRateLimitCounter(store) : null;

    /// <summary>
    /// Adds <paramref name="amount"/> (0 reads) to the counter <paramref name="name"/>, which expires
    /// <paramref name="ttl"/> after its first use; returns the new total. Throws
    /// <see cref="StreamStoreUnavailableException"/> when Redis cannot be reached.
    /// </summary>
    public async ValueTask<long> AddAsync(string name, long amount, TimeSpan ttl)
    {
        RedisKey[] keys = [$"{_store.Prefix}rl:{name}"];
        RedisValue[] args = [amount, (long)Math.Max(1, ttl.TotalMilliseconds)];
        return (long)await _store.Guard(() => _store.Database.ScriptEvaluateAsync(AddScript, keys, args)).ConfigureAwait(false);
    }
}
