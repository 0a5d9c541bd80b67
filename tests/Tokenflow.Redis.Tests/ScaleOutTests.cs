using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Tokenflow.Core.Sim;

namespace Tokenflow.Redis.Tests;

/// <summary>The "done means" across two real server processes on one Redis.</summary>
public sealed class ScaleOutTests(ScaleOutFixture fixture) : IClassFixture<ScaleOutFixture>
{
    private static async Task<(HttpResponseMessage Response, string Id, Stream Body)> StartAsync(ServerProcess server, object request)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = SseEvent.Body(request) };
        var response = await server.Client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (response, response.Headers.GetValues("X-Stream-Id").Single(), await response.Content.ReadAsStreamAsync());
    }

    private static async Task<List<SseEvent>> EventsAsync(ServerProcess server, string id, long after, double timeoutSeconds = 30)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/streams/{id}/events");
        request.Headers.Add("Last-Event-ID", after.ToString());
        using var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await SseEvent.ReadAsync(await response.Content.ReadAsStreamAsync(), timeoutSeconds: timeoutSeconds);
    }

    [Fact]
    public async Task A_stream_started_on_A_resumes_on_B_with_no_gap_or_duplicate()
    {
        var (response, id, body) = await StartAsync(fixture.A, SseEvent.Chat(60, 21, tokensPerSecond: 200));
        var first = await SseEvent.ReadAsync(body, count: 5);
        response.Dispose();

        var rest = await EventsAsync(fixture.B, id, long.Parse(first[^1].Id!));
        var resumed = first.Concat(rest).ToList();

        // The same request run without interruption gives the same events.
        var (_, _, whole) = await StartAsync(fixture.B, SseEvent.Chat(60, 21));
        var uninterrupted = await SseEvent.ReadAsync(whole);

        var ids = resumed.Where(e => e.Id is not null).Select(e => long.Parse(e.Id!)).ToList();
        Assert.Equal(Enumerable.Range(1, ids.Count).Select(i => (long)i), ids);
        Assert.Equal(SimBackend.ExpectedText(21, 60), string.Concat(resumed.Select(e => e.Text)));
        Assert.Equal(uninterrupted.Select(e => (e.Id, e.Text, e.FinishReason)), resumed.Select(e => (e.Id, e.Text, e.FinishReason)));
        Assert.Equal("[DONE]", resumed[^1].Data);
        Assert.Equal(60, resumed[^2].Json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.All(resumed[..^1], e => Assert.Equal(id, e.Json.GetProperty("id").GetString()));

        // Either process reports the same final status.
        var statusA = await fixture.A.Client.GetFromJsonAsync<JsonElement>($"/v1/streams/{id}");
        var statusB = await fixture.B.Client.GetFromJsonAsync<JsonElement>($"/v1/streams/{id}");
        Assert.Equal("completed", statusB.GetProperty("status").GetString());
        Assert.Equal(statusA.ToString(), statusB.ToString());
    }

    [Fact]
    public async Task Cancel_on_B_stops_the_generation_running_on_A()
    {
        var (response, id, body) = await StartAsync(fixture.A, SseEvent.Chat(1_000_000, 5, tokensPerSecond: 50));
        using var _ = response;
        Assert.Equal(3, (await SseEvent.ReadAsync(body, count: 3)).Count);
        var rest = SseEvent.ReadAsync(body, timeoutSeconds: 15);

        var clock = Stopwatch.StartNew();
        using var cancel = await fixture.B.Client.PostAsync($"/v1/streams/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        var status = await cancel.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("cancelled", status.GetProperty("status").GetString());

        var events = await rest;
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"stopped after {clock.Elapsed}");
        Assert.Equal("[DONE]", events[^1].Data);
        Assert.Contains(events, e => e.FinishReason == "cancelled");
        var onA = await fixture.A.Client.GetFromJsonAsync<JsonElement>($"/v1/streams/{id}");
        Assert.Equal("cancelled", onA.GetProperty("status").GetString());
        Assert.True(onA.GetProperty("usage").GetProperty("completion_tokens").GetInt32() < 1000);
    }

    [Fact]
    public async Task Two_readers_on_different_processes_see_identical_events()
    {
        var (response, id, body) = await StartAsync(fixture.A, SseEvent.Chat(80, 9, tokensPerSecond: 150));
        using var _ = response;
        var onB = EventsAsync(fixture.B, id, 0);
        var onA = await SseEvent.ReadAsync(body);

        var seenOnB = await onB;
        Assert.Equal(onA.Select(e => (e.Id, e.EventType, e.Data)), seenOnB.Select(e => (e.Id, e.EventType, e.Data)));
        Assert.Equal(SimBackend.ExpectedText(9, 80), string.Concat(seenOnB.Select(e => e.Text)));
    }

    [Fact]
    public async Task Killing_the_generating_process_gives_readers_on_B_an_error_event()
    {
        await using var doomed = await ServerProcess.StartAsync(fixture.Redis.Configuration);
        var (response, id, body) = await StartAsync(doomed, SseEvent.Chat(1_000_000, 3, tokensPerSecond: 50, background: true));
        using var _ = response;
        await SseEvent.ReadAsync(body, count: 2);

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/streams/{id}/events?after=0");
        using var onB = await fixture.B.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var bBody = await onB.Content.ReadAsStreamAsync();
        Assert.Equal(3, (await SseEvent.ReadAsync(bBody, count: 3)).Count);

        var clock = Stopwatch.StartNew();
        doomed.Kill();
        var rest = await SseEvent.ReadAsync(bBody, timeoutSeconds: 15);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(6), $"error after {clock.Elapsed}");
        var error = rest[^1];
        Assert.Equal("error", error.EventType);
        Assert.Equal("writer_lost", error.Json.GetProperty("error").GetProperty("code").GetString());

        var status = await fixture.B.Client.GetFromJsonAsync<JsonElement>($"/v1/streams/{id}");
        Assert.Equal("failed", status.GetProperty("status").GetString());
    }
}
