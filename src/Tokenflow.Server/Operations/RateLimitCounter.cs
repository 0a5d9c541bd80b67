using System.Collections.Concurrent;
using Tokenflow.Redis;

namespace Tokenflow.Server.Operations;

/// <summary>
/// Fixed-window counters: in this process (memory store), or in Redis (<see cref="RedisRateLimitCounter"/>)
/// when the stream store is Redis, so processes share them.
/// </summary>
internal sealed class RateLimitCounter(RedisRateLimitCounter? redis, TimeProvider timeProvider)
{
    private readonly ConcurrentDictionary<string, Entry> _local = new(StringComparer.Ordinal);
    private long _sweptAt;

    /// <summary>Adds <paramref name="amount"/> (0 reads) to <paramref name="name"/>, forgotten after <paramref name="ttl"/>; returns the total.</summary>
    public async ValueTask<long> AddAsync(string name, long amount, TimeSpan ttl)
    {
        if (redis is not null)
        {
            return await redis.AddAsync(name, amount, ttl);
        }

        var now = timeProvider.GetTimestamp();
        Sweep(now);
        var entry = _local.GetOrAdd(name, static (_, expires) => new Entry(expires), now + (long)(ttl.TotalSeconds * timeProvider.TimestampFrequency));
        return Interlocked.Add(ref entry.Count, amount);
    }

    /// <summary>Drops expired windows, at most once a second.</summary>
    private void Sweep(long now)
    {
        var last = Interlocked.Read(ref _sweptAt);
        if (now - last < timeProvider.TimestampFrequency || Interlocked.CompareExchange(ref _sweptAt, now, last) != last)
        {
            return;
        }

        foreach (var (key, entry) in _local)
        {
            if (entry.Expires < now)
            {
                _local.TryRemove(key, out _);
            }
        }
    }

    private sealed class Entry(long expires)
    {
        public readonly long Expires = expires;
        public long Count;
    }
}
