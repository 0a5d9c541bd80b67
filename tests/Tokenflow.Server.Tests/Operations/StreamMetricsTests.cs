using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Tokenflow.Core.Sim;
using Tokenflow.Server.Tests.Mcp;

namespace Tokenflow.Server.Tests.Operations;

[CollectionDefinition(nameof(StreamMetricsTests), DisableParallelization = true)]
public sealed class StreamMetricsTestsCollection;

// The meter is process-wide: these tests run alone (their collection is not parallel), so the differences
// between two scrapes are their own requests' doing and can be asserted exactly.
[Collection(nameof(StreamMetricsTests))]
public sealed class StreamMetricsTests
{
    private const string Resumes = "tokenflow_stream_resumes_total";
    private const string Cancellations = "tokenflow_stream_cancellations_total";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_responses_replay_after_starting_after_counts_as_a_resume_on_the_responses_door()
    {
        await using var server = await TestServer.StartAsync();
        using var timeout = new CancellationTokenSource(Timeout);
        using var created = await server.Client.PostAsJsonAsync("/v1/responses", new { model = "sim", input = "Go", max_output_tokens = 10, seed = 3 }, timeout.Token);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>(timeout.Token)).GetProperty("id").GetString()!;
        var before = await ScrapeAsync(server);

        // Without starting_after it is a read, not a resume.
        var whole = await SseEvent.ReadAllAsync(await server.Client.GetStreamAsync($"/v1/responses/{id}?stream=true", timeout.Token), timeout.Token);
        var tail = await SseEvent.ReadAllAsync(await server.Client.GetStreamAsync($"/v1/responses/{id}?stream=true&starting_after=3", timeout.Token), timeout.Token);
        Assert.Equal(4, tail[0].Json.GetProperty("sequence_number").GetInt64());
        Assert.Equal(whole.Count - 4, tail.Count);

        var after = await ScrapeAsync(server);
        Assert.Equal(1, Delta(before, after, Resumes, "tokenflow_door=\"responses\""));
        Assert.Equal(0, Delta(before, after, Resumes, "tokenflow_door=\"sse\""));
    }

    [Fact]
    public async Task A_messages_replay_after_last_event_id_counts_as_a_resume_on_the_messages_door()
    {
        await using var server = await TestServer.StartAsync();
        using var timeout = new CancellationTokenSource(Timeout);
        const string Body = """{"model":"sim","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"x"}]}""";
        using var response = await server.Client.PostAsync("/v1/messages", new StringContent(Body, Encoding.UTF8, "application/json"), timeout.Token);
        var original = await SseEvent.ReadAllAsync(await response.Content.ReadAsStreamAsync(timeout.Token), timeout.Token);
        var id = response.Headers.GetValues("X-Stream-Id").Single();
        var cut = original.Where(e => e.Id is not null).ElementAt(2);
        var before = await ScrapeAsync(server);

        using var resume = new HttpRequestMessage(HttpMethod.Get, $"/v1/streams/{id}/events");
        resume.Headers.Add("Last-Event-ID", cut.Id);
        using var resumed = await server.Client.SendAsync(resume, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
        var rest = await SseEvent.ReadAllAsync(await resumed.Content.ReadAsStreamAsync(timeout.Token), timeout.Token);
        Assert.Equal("message_stop", rest[^1].EventType);

        var after = await ScrapeAsync(server);
        Assert.Equal(1, Delta(before, after, Resumes, "tokenflow_door=\"messages\""));
        Assert.Equal(0, Delta(before, after, Resumes, "tokenflow_door=\"sse\""));
    }

    [Fact]
    public async Task An_mcp_reconnect_with_last_event_id_counts_as_a_resume_on_the_mcp_door()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:Streams:ResumeGrace", "00:05:00"]);
        var before = await ScrapeAsync(server);
        var cutter = new ConnectionCutter(cutAfterProgress: 5);
        await using var client = await McpTestClient.ConnectAsync(server.Address, handler: cutter);
        await using var progress = new McpTestClient.ProgressCollector(client);

        using var timeout = new CancellationTokenSource(Timeout);
        var result = await client.CallAsync("generate", new { model = "sim", prompt = "x", max_tokens = 50, seed = 5, sim_tokens_per_second = 400 }, progress, timeout.Token);
        Assert.Equal(SimBackend.ExpectedText(5, 50), result.Structured().GetProperty("text").GetString());
        Assert.True(cutter.Resumes >= 1, "the client never resumed");

        var after = await ScrapeAsync(server);
        Assert.Equal(cutter.Resumes, Delta(before, after, Resumes, "tokenflow_door=\"mcp\""));
    }

    [Fact]
    public async Task A_stream_whose_readers_left_past_the_resume_grace_is_cancelled_as_abandoned_not_client()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:Streams:ResumeGrace", "00:00:00.200"]);
        var before = await ScrapeAsync(server);
        await StartAndDropAsync(server);

        var after = await WaitForAsync(server, text => Delta(before, text, Cancellations, "tokenflow_cancel_cause=\"abandoned\"") >= 1);
        Assert.Equal(1, Delta(before, after, Cancellations, "tokenflow_cancel_cause=\"abandoned\""));
        Assert.Equal(0, Delta(before, after, Cancellations, "tokenflow_cancel_cause=\"client\""));
    }

    [Fact]
    public async Task An_explicit_cancel_and_a_drop_with_no_grace_are_cancelled_as_client_not_abandoned()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:Streams:ResumeGrace", "00:00:00"]);
        var before = await ScrapeAsync(server);
        await StartAndDropAsync(server);
        var dropped = await WaitForAsync(server, text => Delta(before, text, Cancellations, "tokenflow_cancel_cause=\"client\"") >= 1);
        Assert.Equal(1, Delta(before, dropped, Cancellations, "tokenflow_cancel_cause=\"client\""));

        using var timeout = new CancellationTokenSource(Timeout);
        using var created = await server.Client.PostAsJsonAsync("/v1/responses", new { model = "sim", input = "Go", background = true, max_output_tokens = 100_000, seed = 2, sim_tokens_per_second = 50 }, timeout.Token);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>(timeout.Token)).GetProperty("id").GetString()!;
        using var cancel = await server.Client.PostAsync($"/v1/streams/{id}/cancel", null, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);

        var after = await WaitForAsync(server, text => Delta(before, text, Cancellations, "tokenflow_cancel_cause=\"client\"") >= 2);
        Assert.Equal(2, Delta(before, after, Cancellations, "tokenflow_cancel_cause=\"client\""));
        Assert.Equal(0, Delta(before, after, Cancellations, "tokenflow_cancel_cause=\"abandoned\""));
    }

    // A slow chat stream whose only reader goes away after the first event.
    private static async Task StartAndDropAsync(TestServer server)
    {
        var body = JsonSerializer.Serialize(new
        {
            model = "sim",
            messages = new[] { new { role = "user", content = "hi" } },
            stream = true,
            max_tokens = 100_000,
            seed = 1,
            sim_tokens_per_second = 50,
        });
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();
        using var reader = new StreamReader(stream);
        Assert.StartsWith("id: 1", await reader.ReadLineAsync().WaitAsync(Timeout), StringComparison.Ordinal);
    }

    private static double Delta(string before, string after, string name, string label)
        => (PrometheusText.Sum(after, name, label) ?? 0) - (PrometheusText.Sum(before, name, label) ?? 0);

    // The generation records its cancel when it next checks its stop signal: scrape until the condition holds.
    private static async Task<string> WaitForAsync(TestServer server, Func<string, bool> condition)
    {
        var deadline = DateTime.UtcNow + Timeout;
        string text;
        while (!condition(text = await ScrapeAsync(server)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        return text;
    }

    private static async Task<string> ScrapeAsync(TestServer server)
    {
        using var response = await server.Client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }
}
