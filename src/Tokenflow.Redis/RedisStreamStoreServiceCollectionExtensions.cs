using Microsoft.Extensions.DependencyInjection;

namespace Tokenflow.Redis;

/// <summary>Registers the Redis Streams store.</summary>
public static class RedisStreamStoreServiceCollectionExtensions
{
    /// <summary>
    /// Uses Redis (StackExchange.Redis configuration string, e.g. <c>localhost:6379</c>) as the
    /// <see cref="Tokenflow.Core.Streams.IStreamStore"/> of this process. Call before the core is added.
    /// </summary>
    public static IServiceCollection AddRedisStreamStore(this IServiceCollection services, string configuration)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(configuration);
        throw new NotSupportedException("The Redis stream store is not implemented yet.");
    }
}
