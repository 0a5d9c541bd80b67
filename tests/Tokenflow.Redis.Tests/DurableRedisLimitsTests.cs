using System.Net;

namespace Tokenflow.Redis.Tests;

/// <summary>
/// The Durable Streams store's bounds and API-key ownership on Redis, where they are counted in Redis for
/// every process at once. Each test has its own redis-server, so the counts start from zero.
/// </summary>
public sealed class DurableRedisLimitsTests
{
    private static async Task<HttpStatusCode> SendAsync(ServerProcess server, HttpMethod method, string path, string? body = null, string? key = null)
    {
        using var response = await DurableHttp.SendAsync(server, method, path, body, "text/plain", key is null ? [] : [("Authorization", "Bearer " + key)]);
        return response.StatusCode;
    }

    [Fact]
    public async Task Stream_and_byte_budgets_hold_across_processes_and_free_up_on_delete()
    {
        await using var redis = await RedisServer.StartAsync();
        string[] limits = ["--Tokenflow:Durable:MaxStreams", "3", "--Tokenflow:Durable:MaxBytes", "2048"];
        await using var a = await ServerProcess.StartAsync(redis.Configuration, limits);
        await using var b = await ServerProcess.StartAsync(redis.Configuration, limits);

        Assert.Equal(HttpStatusCode.Created, await SendAsync(a, HttpMethod.Put, "one", string.Empty));
        Assert.Equal(HttpStatusCode.Created, await SendAsync(b, HttpMethod.Put, "two", string.Empty));
        Assert.Equal(HttpStatusCode.Created, await SendAsync(a, HttpMethod.Put, "three", string.Empty));
        // The fourth stream is one too many, whichever process is asked.
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await SendAsync(b, HttpMethod.Put, "four", string.Empty));

        Assert.Equal(HttpStatusCode.NoContent, await SendAsync(a, HttpMethod.Post, "one", new string('a', 1500)));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await SendAsync(b, HttpMethod.Post, "two", new string('b', 600)));
        Assert.Equal(HttpStatusCode.NoContent, await SendAsync(b, HttpMethod.Post, "two", new string('b', 500)));

        // Deleting gives back both the stream and its bytes.
        Assert.Equal(HttpStatusCode.NoContent, await SendAsync(b, HttpMethod.Delete, "one"));
        Assert.Equal(HttpStatusCode.Created, await SendAsync(a, HttpMethod.Put, "four", string.Empty));
        Assert.Equal(HttpStatusCode.NoContent, await SendAsync(a, HttpMethod.Post, "four", new string('c', 1500)));
    }

    [Fact]
    public async Task A_stream_belongs_to_the_key_that_created_it_on_every_process()
    {
        await using var redis = await RedisServer.StartAsync();
        string[] keys = ["--Tokenflow:ApiKeys:0", "key-one", "--Tokenflow:ApiKeys:1", "key-two"];
        await using var a = await ServerProcess.StartAsync(redis.Configuration, keys);
        await using var b = await ServerProcess.StartAsync(redis.Configuration, keys);

        Assert.Equal(HttpStatusCode.Created, await SendAsync(a, HttpMethod.Put, "private/notes", "secret", "key-one"));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(b, HttpMethod.Get, "private/notes?offset=-1"));
        Assert.Equal(HttpStatusCode.NotFound, await SendAsync(b, HttpMethod.Get, "private/notes?offset=-1", key: "key-two"));
        Assert.Equal(HttpStatusCode.NotFound, await SendAsync(b, HttpMethod.Post, "private/notes", "x", "key-two"));
        Assert.Equal(HttpStatusCode.NotFound, await SendAsync(b, HttpMethod.Delete, "private/notes", key: "key-two"));
        // Another key cannot take the path over either.
        Assert.Equal(HttpStatusCode.Conflict, await SendAsync(b, HttpMethod.Put, "private/notes", "mine", "key-two"));

        Assert.Equal(HttpStatusCode.NoContent, await SendAsync(b, HttpMethod.Post, "private/notes", "!", "key-one"));
        using var read = await DurableHttp.SendAsync(a, HttpMethod.Get, "private/notes?offset=-1", headers: ("Authorization", "Bearer key-one"));
        Assert.Equal("secret!", await read.Content.ReadAsStringAsync());
    }
}
