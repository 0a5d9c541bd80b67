namespace Tokenflow.Redis.Tests;

/// <summary>Two Tokenflow server processes, A and B, sharing one Redis.</summary>
public sealed class ScaleOutFixture : IAsyncLifetime
{
    internal RedisServer Redis { get; private set; } = null!;

    internal ServerProcess A { get; private set; } = null!;

    internal ServerProcess B { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Redis = await RedisServer.Shared;
        var a = ServerProcess.StartAsync(Redis.Configuration);
        var b = ServerProcess.StartAsync(Redis.Configuration);
        A = await a;
        B = await b;
    }

    public async Task DisposeAsync()
    {
        await A.DisposeAsync();
        await B.DisposeAsync();
    }
}
