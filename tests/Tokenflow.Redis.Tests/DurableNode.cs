using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Durable;
using Tokenflow.Core.Generation;

namespace Tokenflow.Redis.Tests;

/// <summary>
/// One "process" of the Redis Durable Streams store: its own service provider and connection, on a key prefix that
/// tests choose (a fresh prefix is an empty store: its own streams, counters and deadlines on a shared Redis).
/// </summary>
internal sealed class DurableNode : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly RedisStreamStore _redis;
    private readonly RedisDurableStreamStore _durable;

    private DurableNode(ServiceProvider services)
    {
        _services = services;
        _redis = services.GetRequiredService<RedisStreamStore>();
        _durable = services.GetRequiredService<RedisDurableStreamStore>();
    }

    public IDurableStreamStore Store => _durable;

    public static string NewPrefix() => "t" + Guid.NewGuid().ToString("N")[..12];

    public static async Task<DurableNode> StartAsync(string configuration, string prefix, DurableStreamOptions options, TimeProvider time)
    {
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Warning));
        services.AddSingleton(time);
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddTokenflowCore().AddRedisStore(configuration);
        services.AddSingleton<IOptions<DurableStreamOptions>>(Options.Create(options));
        services.Configure<RedisStreamStoreOptions>(o =>
        {
            o.KeyPrefix = prefix;
            o.PollInterval = TimeSpan.FromMilliseconds(200);
        });
        var node = new DurableNode(services.BuildServiceProvider());
        await node._redis.StartAsync(CancellationToken.None);
        await node._durable.StartAsync(CancellationToken.None);
        return node;
    }

    public async ValueTask DisposeAsync()
    {
        await _durable.StopAsync(CancellationToken.None);
        await _redis.StopAsync(CancellationToken.None);
        await _services.DisposeAsync();
    }
}
