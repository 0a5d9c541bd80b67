using System.Net;
using System.Text;
using System.Text.Json;

namespace Tokenflow.Server.Tests.Durable;

public sealed class GenerationDurableReadTests
{
    private static async Task<(HttpResponseMessage Response, string Id)> StartAsync(TestServer server, double tokensPerSecond)
    {
        var body = JsonSerializer.Serialize(new
        {
            model = "sim",
            messages = new[] { new { role = "user", content = "hi" } },
            stream = true,
            max_tokens = 20,
            seed = 3,
            sim_tokens_per_second = tokensPerSecond,
            resume_grace_ms = 10_000,
        });
        var response = await server.Client.SendAsync(
            new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") },
            HttpCompletionOption.ResponseHeadersRead);
        return (response, response.Headers.GetValues("X-Stream-Id").Single());
    }

    [Fact]
    public async Task A_long_poll_at_the_tail_of_a_running_generation_answers_with_the_next_events()
    {
        await using var server = await TestServer.StartAsync();
        var (original, id) = await StartAsync(server, tokensPerSecond: 5);
        using (original)
        {
            using var head = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v1/durable/{id}"));
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.False(head.Headers.Contains("Stream-Closed"));
            var tail = head.Headers.GetValues("Stream-Next-Offset").Single();

            using var polled = await server.Client.GetAsync($"/v1/durable/{id}?offset={tail}&live=long-poll");
            Assert.Equal(HttpStatusCode.OK, polled.StatusCode);
            Assert.Equal("no-store", polled.Headers.CacheControl?.ToString());
            Assert.True(polled.Headers.Contains("Stream-Cursor"));
            var messages = JsonDocument.Parse(await polled.Content.ReadAsStringAsync()).RootElement;
            Assert.True(messages.GetArrayLength() > 0);
            Assert.Equal(long.Parse(tail.Split('_')[1], System.Globalization.CultureInfo.InvariantCulture) + 1, messages[0].GetProperty("seq").GetInt64());
            Assert.True(string.CompareOrdinal(polled.Headers.GetValues("Stream-Next-Offset").Single(), tail) > 0);
        }
    }

    [Fact]
    public async Task A_long_poll_at_the_end_of_a_finished_generation_is_204_closed_at_once()
    {
        await using var server = await TestServer.StartAsync();
        var (original, id) = await StartAsync(server, tokensPerSecond: 0);
        await original.Content.ReadAsStringAsync();
        original.Dispose();

        using var all = await server.Client.GetAsync($"/v1/durable/{id}?offset=-1");
        var end = all.Headers.GetValues("Stream-Next-Offset").Single();
        using var polled = await server.Client.GetAsync($"/v1/durable/{id}?offset={end}&live=long-poll");
        Assert.Equal(HttpStatusCode.NoContent, polled.StatusCode);
        Assert.Equal("true", polled.Headers.GetValues("Stream-Closed").Single());
        Assert.False(polled.Headers.Contains("Stream-Cursor"));
    }

    [Theory]
    [InlineData("?live=sse")]
    [InlineData("?offset=-1&live=forever")]
    [InlineData("?offset=nonsense")]
    public async Task A_malformed_read_of_a_generation_is_400_as_for_client_streams(string query)
    {
        await using var server = await TestServer.StartAsync();
        var (original, id) = await StartAsync(server, tokensPerSecond: 0);
        await original.Content.ReadAsStringAsync();
        original.Dispose();

        using var response = await server.Client.GetAsync($"/v1/durable/{id}{query}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }
}
