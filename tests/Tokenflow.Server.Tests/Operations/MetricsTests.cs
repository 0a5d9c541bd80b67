using System.Net;
using System.Text;
using System.Text.Json;
using Tokenflow.Server.Tests.OpenAi;

namespace Tokenflow.Server.Tests.Operations;

// The meter is process-wide: another test's sim streams (no TTFT) recorded while this one runs pulled the mean TTFT
// under its 30 ms, so these run in the non-parallel collection of StreamMetricsTests. Values are still checked for
// sense (ratios of sums to counts), not for equality.
[Collection(nameof(StreamMetricsTests))]
public sealed class MetricsTests
{
    private const string Model = "gen_ai_request_model=\"sim\"";

    private static object Chat(int maxTokens, int seed, double tokensPerSecond = 0, int ttftMs = 0) => new
    {
        model = "sim",
        messages = new[] { new { role = "user", content = "hi" } },
        stream = true,
        max_tokens = maxTokens,
        seed,
        sim_tokens_per_second = tokensPerSecond,
        sim_ttft_ms = ttftMs,
    };

    [Fact]
    public async Task Metrics_scrape_after_real_generations_has_the_gen_ai_histograms_and_token_counters()
    {
        await using var server = await TestServer.StartAsync();
        for (var i = 0; i < 3; i++)
        {
            var (_, events) = await ChatCompletionsStreamingTests.StreamAsync(server, Chat(20, i, tokensPerSecond: 2000, ttftMs: 30));
            Assert.Equal("[DONE]", events[^1].Data);
        }

        using var response = await server.Client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.MediaType, StringComparison.Ordinal);
        var text = await response.Content.ReadAsStringAsync();

        var ttftCount = PrometheusText.Sum(text, "gen_ai_server_time_to_first_token_seconds_count", Model);
        var ttftSum = PrometheusText.Sum(text, "gen_ai_server_time_to_first_token_seconds_sum", Model);
        Assert.True(ttftCount >= 3, text);
        // sim_ttft_ms = 30: every first token took at least 30 ms, and (generously) under 10 s.
        Assert.InRange(ttftSum!.Value / ttftCount!.Value, 0.025, 10);
        Assert.True(PrometheusText.Sum(text, "gen_ai_server_time_to_first_token_seconds_bucket", Model, "le=\"+Inf\"") >= 3, text);

        var tpotCount = PrometheusText.Sum(text, "gen_ai_server_time_per_output_token_seconds_count", Model);
        var tpotSum = PrometheusText.Sum(text, "gen_ai_server_time_per_output_token_seconds_sum", Model);
        Assert.True(tpotCount >= 3, text);
        Assert.InRange(tpotSum!.Value / tpotCount!.Value, 0.0001, 1);

        var durationCount = PrometheusText.Sum(text, "gen_ai_server_request_duration_seconds_count", Model);
        Assert.True(durationCount >= 3, text);
        Assert.True(PrometheusText.Sum(text, "gen_ai_server_request_duration_seconds_sum", Model) / durationCount >= 0.025, text);

        Assert.True(PrometheusText.Sum(text, "gen_ai_server_token_usage_total", Model, "gen_ai_token_type=\"output\"") >= 60, text);
        Assert.True(PrometheusText.Sum(text, "gen_ai_server_token_usage_total", Model, "gen_ai_token_type=\"input\"") >= 3, text);
        Assert.NotNull(PrometheusText.Sum(text, "tokenflow_streams_active"));
        Assert.NotNull(PrometheusText.Sum(text, "tokenflow_store_bytes"));
    }

    [Fact]
    public async Task Cancellations_resumes_and_readers_are_counted()
    {
        await using var server = await TestServer.StartAsync();
        var before = await ScrapeAsync(server);

        // A slow generation with a reader attached, resumed by a second reader, then cancelled.
        var body = new StringContent(JsonSerializer.Serialize(Chat(100_000, 1, tokensPerSecond: 50)), Encoding.UTF8, "application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = body };
        using var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var id = response.Headers.GetValues("X-Stream-Id").Single();
        await using var first = await response.Content.ReadAsStreamAsync();
        using var firstReader = new StreamReader(first);
        Assert.StartsWith("id: 1", await firstReader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)), StringComparison.Ordinal);

        using var resume = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"/v1/streams/{id}/events?after=1"), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, resume.StatusCode);
        var during = await ScrapeAsync(server);
        Assert.True(PrometheusText.Sum(during, "tokenflow_stream_readers") >= 2, during);
        Assert.True(PrometheusText.Sum(during, "tokenflow_streams_active") >= 1, during);
        Assert.True(Counter(during, "tokenflow_stream_resumes_total", "tokenflow_door=\"sse\"") > Counter(before, "tokenflow_stream_resumes_total", "tokenflow_door=\"sse\""), during);

        using var cancel = await server.Client.PostAsync($"/v1/streams/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        await SseEvent.ReadAllAsync(await resume.Content.ReadAsStreamAsync()).WaitAsync(TimeSpan.FromSeconds(30));

        // The store ends the stream for its readers at once; the generation counts the cancel when it sees it (next token).
        var cancelled = Counter(before, "tokenflow_stream_cancellations_total", "tokenflow_cancel_cause=\"client\"");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        string after;
        do
        {
            after = await ScrapeAsync(server);
        }
        while (Counter(after, "tokenflow_stream_cancellations_total", "tokenflow_cancel_cause=\"client\"") <= cancelled && DateTime.UtcNow < deadline && await Delay());

        Assert.True(Counter(after, "tokenflow_stream_cancellations_total", "tokenflow_cancel_cause=\"client\"") > cancelled, after);
    }

    [Fact]
    public async Task Metrics_can_be_turned_off()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:Telemetry:Prometheus", "false"]);
        using var response = await server.Client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    private static async Task<bool> Delay()
    {
        await Task.Delay(50);
        return true;
    }

    private static double Counter(string text, string name, string label) => PrometheusText.Sum(text, name, label) ?? 0;

    private static async Task<string> ScrapeAsync(TestServer server)
    {
        using var response = await server.Client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }
}
