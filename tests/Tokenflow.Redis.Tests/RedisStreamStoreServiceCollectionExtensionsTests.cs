using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Streams;

namespace Tokenflow.Redis.Tests;

public sealed class RedisStreamStoreServiceCollectionExtensionsTests
{
    [Fact]
    public void The_Redis_store_wins_over_the_memory_store_and_reads_its_settings()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Tokenflow:Redis:LeaseTimeout"] = "00:00:02",
            ["Tokenflow:Redis:KeyPrefix"] = "tf-test",
            ["Tokenflow:Redis:MaxPendingEvents"] = "64",
        }).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddRedisStreamStore("127.0.0.1:1");
        services.AddTokenflowCore();
        using var provider = services.BuildServiceProvider();

        Assert.IsType<RedisStreamStore>(provider.GetRequiredService<IStreamStore>());
        var options = provider.GetRequiredService<IOptions<RedisStreamStoreOptions>>().Value;
        Assert.Equal(("127.0.0.1:1", "tf-test", TimeSpan.FromSeconds(2), 64), (options.Configuration, options.KeyPrefix, options.LeaseTimeout, options.MaxPendingEvents));
    }

    [Fact]
    public void A_key_prefix_with_braces_is_refused()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddRedisStreamStore("127.0.0.1:1");
        services.Configure<RedisStreamStoreOptions>(o => o.KeyPrefix = "a{b}");
        using var provider = services.BuildServiceProvider();
        Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<RedisStreamStoreOptions>>().Value);
    }
}
