using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Durable;
using Tokenflow.Core.Streams;

namespace Tokenflow.Redis;

/// <summary>Registers the Redis Streams store.</summary>
public static class RedisStreamStoreServiceCollectionExtensions
{
    /// <summary>
    /// Uses Redis (StackExchange.Redis configuration string, e.g. <c>localhost:6379</c>) as the
    /// <see cref="IStreamStore"/> of this process. Call before the core is added (the core adds
    /// the memory store only when no store is registered). Settings are read from
    /// <c>Tokenflow:Redis</c> when an <c>IConfiguration</c> is registered (see
    /// <see cref="RedisStreamStoreOptions"/>). Client-created Durable Streams (<see cref="IDurableStreamStore"/>)
    /// live in the same Redis. The store connects when the host starts and keeps
    /// reconnecting while Redis is away; a hosted service renews this process' lease.
    /// </summary>
    public static IServiceCollection AddRedisStreamStore(this IServiceCollection services, string configuration)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(configuration);
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<StreamStoreOptions>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<RedisStreamStoreOptions>, RedisStreamStoreOptionsSetup>());
        services.AddOptions<RedisStreamStoreOptions>()
            .PostConfigure(o => o.Configuration = configuration)
            .ValidateDataAnnotations()
            .Validate(
                o => o.LeaseTimeout >= TimeSpan.FromMilliseconds(500) && o.PollInterval > TimeSpan.Zero && o.RunningTtl >= TimeSpan.FromMinutes(1) && o.KeyPrefix.IndexOfAny(['{', '}']) < 0,
                "Tokenflow:Redis: LeaseTimeout must be at least 500 ms, PollInterval positive, RunningTtl at least a minute, and KeyPrefix without braces (they would break the hash tags).")
            .ValidateOnStart();
        services.TryAddSingleton<RedisStreamStore>();
        services.TryAddSingleton<IStreamStore>(sp => sp.GetRequiredService<RedisStreamStore>());
        services.AddHostedService(sp => sp.GetRequiredService<RedisStreamStore>());
        services.AddOptions<DurableStreamOptions>()
            .Validate(o => o.SweepInterval > TimeSpan.Zero, "Tokenflow:Durable:SweepInterval must be positive.")
            .ValidateOnStart();
        services.TryAddSingleton<RedisDurableStreamStore>();
        services.TryAddSingleton<IDurableStreamStore>(sp => sp.GetRequiredService<RedisDurableStreamStore>());
        services.AddHostedService(sp => sp.GetRequiredService<RedisDurableStreamStore>());
        return services;
    }
}
