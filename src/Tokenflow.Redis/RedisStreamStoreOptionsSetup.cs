using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Tokenflow.Redis;

/// <summary>
/// Reads <see cref="RedisStreamStoreOptions"/> from the <c>Tokenflow:Redis</c> section when the
/// host has an <see cref="IConfiguration"/> (a web host always has; a bare service collection may not).
/// </summary>
internal sealed class RedisStreamStoreOptionsSetup(IServiceProvider services) : IConfigureOptions<RedisStreamStoreOptions>
{
    public void Configure(RedisStreamStoreOptions options)
    {
        if (services.GetService<IConfiguration>()?.GetSection(RedisStreamStoreOptions.Section) is not { } section)
        {
            return;
        }

        options.KeyPrefix = section[nameof(options.KeyPrefix)] ?? options.KeyPrefix;
        options.LeaseTimeout = Time(section, nameof(options.LeaseTimeout), options.LeaseTimeout);
        options.PollInterval = Time(section, nameof(options.PollInterval), options.PollInterval);
        options.RunningTtl = Time(section, nameof(options.RunningTtl), options.RunningTtl);
        options.ReadRetryTimeout = Time(section, nameof(options.ReadRetryTimeout), options.ReadRetryTimeout);
        options.MaxPendingEvents = Int(section, nameof(options.MaxPendingEvents), options.MaxPendingEvents);
        options.ReadBatchEntries = Int(section, nameof(options.ReadBatchEntries), options.ReadBatchEntries);
    }

    private static TimeSpan Time(IConfigurationSection section, string key, TimeSpan fallback)
        => section[key] is { } text ? TimeSpan.Parse(text, CultureInfo.InvariantCulture) : fallback;

    private static int Int(IConfigurationSection section, string key, int fallback)
        => section[key] is { } text ? int.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture) : fallback;
}
