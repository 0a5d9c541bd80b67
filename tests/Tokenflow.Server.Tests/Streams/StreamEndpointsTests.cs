using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json;
using Tokenflow.Core.Sim;
using Tokenflow.Server.Tests.OpenAi;

namespace Tokenflow.Server.Tests.Streams;

public sealed class StreamEndpointsTests
{
    private static object Request(int maxTokens, int seed, double tokensPerSecond = 0, bool includeUsage = false) => new
    {
        model = "sim",
        messages = new[] { new { role = "user", content = "hi" } },
        stream = true,
        max_tokens = maxTokens,
        seed,
        sim_tokens_per_second = tokensPerSecond,
        resume_grace_ms = 10_000,
        stream_options = includeUsage ? new { include_usage = true } : null,
    };

    [Fact]
    public async Task Resume_after_disconnect_replays_missing_events_once()
    {
        await using var server = await TestServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = ChatCompletionsStreamingTests.Body(Request(60, 21, tokensPerSecond: 200, includeUsage: true)) };
        var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var id = response.Headers.GetValues("X-Stream-Id").Single();

        // Read five events, then drop the connection.
        var first = new List<SseEvent>();
        await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync()).EnumerateAsync())
        {
            first.Add(new SseEvent(item.EventType, item.EventId, item.Data));
            if (first.Count == 5)
            {
                break;
            }
        }

        response.Dispose();

        using var resume = new HttpRequestMessage(HttpMethod.Get, $"/v1/streams/{id}/events");
        resume.Headers.Add("Last-Event-ID", first[^1].Id);
        using var resumed = await server.Client.SendAsync(resume, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
        var rest = await SseEvent.ReadAllAsync(await resumed.Content.ReadAsStreamAsync());

        var all = first.Concat(rest).ToList();
        var ids = all.Where(e => e.Id is not null).Select(e => long.Parse(e.Id!)).ToList();
        Assert.Equal(Enumerable.Range(1, ids.Count).Select(i => (long)i), ids);
        Assert.Equal(SimBackend.ExpectedText(21, 60), string.Concat(all.Select(e => e.Text)));
        Assert.Equal("[DONE]", all[^1].Data);
        Assert.Equal(60, all[^2].Json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.All(all[..^1], e => Assert.Equal(id, e.Json.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task Events_after_a_query_cursor_and_status_of_a_finished_stream()
    {
        await using var server = await TestServer.StartAsync();
        var (response, original) = await ChatCompletionsStreamingTests.StreamAsync(server, Request(20, 3));
        var id = response.Headers.GetValues("X-Stream-Id").Single();

        var replay = await SseEvent.ReadAllAsync(await server.Client.GetStreamAsync($"/v1/streams/{id}/events?after=0"));
        Assert.Equal(original.Select(e => (e.Id, e.Data)), replay.Select(e => (e.Id, e.Data)));

        var tail = await SseEvent.ReadAllAsync(await server.Client.GetStreamAsync($"/v1/streams/{id}/events?after=10"));
        Assert.Equal(original.Skip(10).Select(e => e.Data), tail.Select(e => e.Data));

        var status = await server.Client.GetFromJsonAsync<JsonElement>($"/v1/streams/{id}");
        Assert.Equal("stream", status.GetProperty("object").GetString());
        Assert.Equal("completed", status.GetProperty("status").GetString());
        // The done event (rendered as [DONE]) follows the finish chunk.
        Assert.Equal(long.Parse(original[^2].Id!) + 1, status.GetProperty("last_seq").GetInt64());
        Assert.Equal(20, status.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Several_readers_of_one_generation_see_identical_events()
    {
        await using var server = await TestServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = ChatCompletionsStreamingTests.Body(Request(80, 8, tokensPerSecond: 400)) };
        using var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var id = response.Headers.GetValues("X-Stream-Id").Single();

        var readers = Enumerable.Range(0, 3).Select(_ => Task.Run(async () => await SseEvent.ReadAllAsync(await server.Client.GetStreamAsync($"/v1/streams/{id}/events")))).ToList();
        var own = await SseEvent.ReadAllAsync(await response.Content.ReadAsStreamAsync());
        foreach (var reader in readers)
        {
            Assert.Equal(own.Select(e => (e.Id, e.Data)), (await reader).Select(e => (e.Id, e.Data)));
        }
    }

    [Fact]
    public async Task Cancel_stops_the_generation_and_readers_get_a_cancelled_finish_and_done()
    {
        await using var server = await TestServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = ChatCompletionsStreamingTests.Body(Request(100_000, 2, tokensPerSecond: 100)) };
        using var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var id = response.Headers.GetValues("X-Stream-Id").Single();
        var reading = Task.Run(async () => await SseEvent.ReadAllAsync(await response.Content.ReadAsStreamAsync()));

        // While it runs, the status reports the tokens generated so far.
        JsonElement running;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            running = await server.Client.GetFromJsonAsync<JsonElement>($"/v1/streams/{id}");
            if (running.GetProperty("usage").GetProperty("completion_tokens").GetInt32() >= 3 || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(20);
        }

        Assert.Equal("running", running.GetProperty("status").GetString());
        Assert.True(running.GetProperty("usage").GetProperty("completion_tokens").GetInt32() >= 3);
        Assert.True(running.GetProperty("usage").GetProperty("prompt_tokens").GetInt32() > 0);

        var cancel = await server.Client.PostAsync($"/v1/streams/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        var status = await cancel.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("cancelled", status.GetProperty("status").GetString());

        var events = await reading.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("[DONE]", events[^1].Data);
        Assert.Equal("cancelled", events[^2].Json.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.True(status.GetProperty("usage").GetProperty("completion_tokens").GetInt32() < 100_000);
    }

    [Theory]
    [InlineData("GET", "/v1/streams/chatcmpl-doesnotexist")]
    [InlineData("GET", "/v1/streams/chatcmpl-doesnotexist/events")]
    [InlineData("POST", "/v1/streams/chatcmpl-doesnotexist/cancel")]
    [InlineData("GET", "/v1/streams/bad%20id!/events")]
    public async Task Unknown_streams_are_404_with_an_openai_error(string method, string path)
    {
        await using var server = await TestServer.StartAsync();
        using var response = await server.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("stream_not_found", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_malformed_cursor_is_a_400()
    {
        await using var server = await TestServer.StartAsync();
        var (response, _) = await ChatCompletionsStreamingTests.StreamAsync(server, Request(3, 1));
        var id = response.Headers.GetValues("X-Stream-Id").Single();
        using var bad = await server.Client.GetAsync($"/v1/streams/{id}/events?after=-3");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }
}
