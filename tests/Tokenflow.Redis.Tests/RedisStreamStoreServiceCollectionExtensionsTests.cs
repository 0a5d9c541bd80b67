using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Durable;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Streams;

namespace Tokenflow.Redis.Tests;

public sealed class RedisStreamStoreServiceCollectionExtensionsTests
{
    private static ServiceCollection Services(Dictionary<string, string?>? settings = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings ?? []).Build());
        services.AddLogging();
        return services;
    }

    [Fact]
    public void The_Redis_store_wins_over_the_memory_store_and_reads_its_settings()
    {
        var services = Services(new()
        {
            ["Tokenflow:Redis:LeaseTimeout"] = "00:00:02",
            ["Tokenflow:Redis:KeyPrefix"] = "tf-test",
            ["Tokenflow:Redis:MaxPendingEvents"] = "64",
        });
        services.AddTokenflowCore().AddRedisStore("127.0.0.1:1");
        using var provider = services.BuildServiceProvider();

        Assert.IsType<RedisStreamStore>(provider.GetRequiredService<IStreamStore>());
        var options = provider.GetRequiredService<IOptions<RedisStreamStoreOptions>>().Value;
        Assert.Equal(("127.0.0.1:1", "tf-test", TimeSpan.FromSeconds(2), 64), (options.Configuration, options.KeyPrefix, options.LeaseTimeout, options.MaxPendingEvents));
    }

    [Fact]
    public void The_Redis_store_wins_whichever_is_added_first()
    {
        var services = Services();
        var builder = services.AddTokenflowCore();
        services.AddSingleton<IDurableStreamStore, MemoryDurableStreamStore>();
        builder.AddRedisStore("127.0.0.1:1", o => o.KeyPrefix = "late");
        services.AddTokenflowCore();
        services.AddTokenflowCore().AddRedisStore("127.0.0.1:2");
        using var provider = services.BuildServiceProvider();

        Assert.IsType<RedisStreamStore>(Assert.Single(provider.GetServices<IStreamStore>()));
        Assert.IsType<RedisDurableStreamStore>(Assert.Single(provider.GetServices<IDurableStreamStore>()));
        var options = provider.GetRequiredService<IOptions<RedisStreamStoreOptions>>().Value;
        Assert.Equal(("127.0.0.1:2", "late"), (options.Configuration, options.KeyPrefix));
    }

    [Fact]
    public void A_key_prefix_with_braces_is_refused()
    {
        var services = Services();
        services.AddTokenflowCore().AddRedisStore("127.0.0.1:1", o => o.KeyPrefix = "a{b}");
        using var provider = services.BuildServiceProvider();
        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<RedisStreamStoreOptions>>().Value);
        Assert.Contains("Tokenflow:Redis:KeyPrefix", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Tokenflow:Redis:PollInterval", "-00:00:01")]
    [InlineData("Tokenflow:Redis:ReadRetryTimeout", "-00:00:01")]
    [InlineData("Tokenflow:Redis:LeaseTimeout", "00:00:00.100")]
    public void A_bad_duration_is_refused_naming_the_setting(string setting, string value)
    {
        var services = Services(new() { [setting] = value });
        services.AddTokenflowCore().AddRedisStore("127.0.0.1:1");
        using var provider = services.BuildServiceProvider();
        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<RedisStreamStoreOptions>>().Value);
        Assert.Contains(setting, error.Message, StringComparison.Ordinal);
    }
}
