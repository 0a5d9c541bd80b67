using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Streams;

namespace Tokenflow.Redis.Tests;

/// <summary>
/// One "process" of the store: its own service provider, Redis connection, node id and lease.
/// Two nodes on one Redis behave like two server processes.
/// </summary>
internal sealed class TestNode : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private bool _killed;

    private TestNode(ServiceProvider services)
    {
        _services = services;
        Store = services.GetRequiredService<RedisStreamStore>();
    }

    public RedisStreamStore Store { get; }

    public static async Task<TestNode> StartAsync(string configuration, Action<StreamStoreOptions>? streams = null, Action<RedisStreamStoreOptions>? redis = null)
    {
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Warning));
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddTokenflowCore().AddRedisStore(configuration);
        services.Configure<StreamStoreOptions>(o =>
        {
            o.ResumeGrace = TimeSpan.FromMilliseconds(300);
            streams?.Invoke(o);
        });
        services.Configure<RedisStreamStoreOptions>(o =>
        {
            o.LeaseTimeout = TimeSpan.FromSeconds(1.5);
            o.PollInterval = TimeSpan.FromMilliseconds(200);
            o.ReadRetryTimeout = TimeSpan.FromSeconds(1);
            redis?.Invoke(o);
        });
        var provider = services.BuildServiceProvider();
        var node = new TestNode(provider);
        await node.Store.StartAsync(CancellationToken.None);
        return node;
    }

    public static StreamDescriptor Descriptor(bool background = false, TimeSpan? grace = null) => new()
    {
        Id = StreamIds.New("test-"),
        Model = "sim",
        Created = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        Background = background,
        ResumeGrace = grace,
        Metadata = "chat+usage",
        Owner = "owner-1",
    };

    public async Task<IStreamWriter> CreateAsync(StreamDescriptor descriptor)
    {
        var (status, writer) = await Store.CreateAsync(descriptor, CancellationToken.None);
        Assert.Equal(StreamCreateStatus.Created, status);
        return writer!;
    }

    public async Task<IStreamReader> OpenAsync(string id, long after = 0)
    {
        var (status, reader) = await Store.OpenReaderAsync(id, after, CancellationToken.None);
        Assert.Equal(StreamOpenStatus.Opened, status);
        return reader!;
    }

    /// <summary>Like <c>kill -9</c>: the lease stops being renewed and the connection drops, with no clean-up in Redis.</summary>
    public async Task KillAsync()
    {
        _killed = true;
        await Store.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_killed)
        {
            await Store.StopAsync(CancellationToken.None);
        }

        await _services.DisposeAsync();
    }
}
