using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Tokenflow.Core;
using Tokenflow.Core.Durable;
using Tokenflow.Core.Streams;

namespace Tokenflow.Redis;

/// <summary>Registers the Redis Streams store.</summary>
public static class RedisStreamStoreServiceCollectionExtensions
{
    /// <summary>
    /// Uses Redis (StackExchange.Redis configuration string, e.g. <c>localhost:6379</c>) as the
    /// <see cref="IStreamStore"/> of this process, in place of the memory store, and for client-created
    /// Durable Streams (<see cref="IDurableStreamStore"/>) too; the order of this and the other builder calls
    /// does not matter. Settings are bound from <see cref="RedisStreamStoreOptions.Section"/>, then
    /// <paramref name="configure"/>, and validated at start-up. The store connects when the host starts and
    /// keeps reconnecting while Redis is away; a hosted service renews this process' lease.
    /// </summary>
    public static ITokenflowBuilder AddRedisStore(this ITokenflowBuilder builder, string configuration, Action<RedisStreamStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(configuration);
        var services = builder.Services;
        var options = services.AddOptions<RedisStreamStoreOptions>().PostConfigure(o => o.Configuration = configuration);
        if (configure is not null)
        {
            options.PostConfigure(configure);
        }

        if (services.Any(d => d.ServiceType == typeof(RedisStreamStore)))
        {
            // Added before: the configuration above overrides the earlier one; everything else is registered.
            return builder;
        }

        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<StreamStoreOptions>();
        options.BindConfiguration(RedisStreamStoreOptions.Section)
            .ValidateDataAnnotations()
            .Validate(o => o.LeaseTimeout >= TimeSpan.FromMilliseconds(500), $"{RedisStreamStoreOptions.Section}:{nameof(RedisStreamStoreOptions.LeaseTimeout)} must be at least 500 ms.")
            .Validate(o => o.PollInterval > TimeSpan.Zero, $"{RedisStreamStoreOptions.Section}:{nameof(RedisStreamStoreOptions.PollInterval)} must be positive.")
            .Validate(o => o.RunningTtl >= TimeSpan.FromMinutes(1), $"{RedisStreamStoreOptions.Section}:{nameof(RedisStreamStoreOptions.RunningTtl)} must be at least a minute.")
            .Validate(o => o.ReadRetryTimeout >= TimeSpan.Zero, $"{RedisStreamStoreOptions.Section}:{nameof(RedisStreamStoreOptions.ReadRetryTimeout)} must not be negative.")
            .Validate(o => o.KeyPrefix.IndexOfAny(['{', '}']) < 0, $"{RedisStreamStoreOptions.Section}:{nameof(RedisStreamStoreOptions.KeyPrefix)} must not contain braces (they would break the hash tags).")
            .ValidateOnStart();
        services.TryAddSingleton<RedisStreamStore>();
        services.RemoveAll<IStreamStore>();
        services.AddSingleton<IStreamStore>(sp => sp.GetRequiredService<RedisStreamStore>());
        services.AddHostedService(sp => sp.GetRequiredService<RedisStreamStore>());
        services.AddOptions<DurableStreamOptions>()
            .Validate(o => o.SweepInterval > TimeSpan.Zero, "Tokenflow:Durable:SweepInterval must be positive.")
            .ValidateOnStart();
        services.TryAddSingleton<RedisDurableStreamStore>();
        services.RemoveAll<IDurableStreamStore>();
        services.AddSingleton<IDurableStreamStore>(sp => sp.GetRequiredService<RedisDurableStreamStore>());
        services.AddHostedService(sp => sp.GetRequiredService<RedisDurableStreamStore>());
        return builder;
    }
}
