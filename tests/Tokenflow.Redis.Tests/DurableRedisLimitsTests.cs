using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Tokenflow.Redis.Tests;

/// <summary>
/// The Durable Streams store's bounds and API-key ownership on Redis, where they are counted in Redis for
/// every process at once. Each test has its own redis-server, so the counts start from zero.
/// </summary>
public sealed class DurableRedisLimitsTests
{
    private static async Task<HttpStatusCode> SendAsync(ServerProcess server, HttpMethod method, string path, string? body = null, string? key = null)
    {
        using var request = new HttpRequestMessage(method, "/v1/durable/" + path);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
        }

        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        using var response = await server.Client.SendAsync(request);
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
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/durable/private/notes?offset=-1");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "key-one");
        using var read = await a.Client.SendAsync(request);
        Assert.Equal("secret!", await read.Content.ReadAsStringAsync());
    }
}
