using System.Collections.Concurrent;
using System.Net.ServerSentEvents;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Tokenflow.Core.Sim;

namespace Tokenflow.Upstreams.Tests;

/// <summary>The real thing end to end: Tokenflow in front of a second Tokenflow serving its models as an OpenAI-compatible upstream.</summary>
public sealed class TokenflowUpstreamTests
{
    private sealed class StreamIdRecorder : IStartupFilter
    {
        public ConcurrentQueue<string> Ids { get; } = new();

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, nextMiddleware) =>
            {
                context.Response.OnStarting(() =>
                {
                    if (context.Response.Headers.TryGetValue("X-Stream-Id", out var id))
                    {
                        Ids.Enqueue(id.ToString());
                    }

                    return Task.CompletedTask;
                });
                await nextMiddleware(context);
            });
            next(app);
        };
    }

    private static async Task<(TestServer Upstream, TestServer Gateway, StreamIdRecorder Ids)> StartPairAsync()
    {
        var recorder = new StreamIdRecorder();
        var upstream = await TestServer.StartAsync(configure: b => b.Services.AddSingleton<IStartupFilter>(recorder));
        var gateway = await TestServer.StartAsync(Gateway.Upstream("tf", "openai", new Uri(upstream.Address, "v1").ToString(), "--Tokenflow:Upstreams:tf:Models:0", "sim"));
        return (upstream, gateway, recorder);
    }

    [Fact]
    public async Task Streams_sims_exact_text_and_usage_through_the_gateway()
    {
        var (upstream, gateway, _) = await StartPairAsync();
        await using (upstream)
        await using (gateway)
        {
            using var response = await Gateway.PostAsync(gateway, Gateway.Chat("tf/sim", maxTokens: 40, extra: new Dictionary<string, object?> { ["seed"] = 5 }));
            var events = await Gateway.ReadEventsAsync(response);

            Assert.Equal(SimBackend.ExpectedText(5, 40), Gateway.Content(events));
            Assert.Equal("length", Gateway.FinishReason(events));
            Assert.Equal(40, Gateway.Usage(events).GetProperty("completion_tokens").GetInt32());
            Assert.StartsWith("chatcmpl-", response.Headers.GetValues("X-Stream-Id").Single());
        }
    }

    [Fact]
    public async Task Stop_sequences_reach_the_upstream_which_stops_there_itself()
    {
        var (upstream, gateway, ids) = await StartPairAsync();
        await using (upstream)
        await using (gateway)
        {
            var full = SimBackend.ExpectedText(5, 40);
            var stop = " " + full.Split(' ', StringSplitOptions.RemoveEmptyEntries)[4];
            using var response = await Gateway.PostAsync(gateway, Gateway.Chat("tf/sim", maxTokens: 40, extra: new Dictionary<string, object?> { ["seed"] = 5, ["stop"] = new[] { stop } }));
            var events = await Gateway.ReadEventsAsync(response);

            Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], Gateway.Content(events));
            Assert.Equal("stop", Gateway.FinishReason(events));

            // The upstream matched the stop itself: its stream completed with the stop as its last event (one delta per
            // token before it). Had the stop not been sent, the upstream would have streamed past it — sim's 40 tokens
            // outrun the gateway's cancel — and ended on "length".
            using var cts = new CancellationTokenSource(Gateway.Timeout);
            var upstreamId = Assert.Single(ids.Ids);
            var status = JsonDocument.Parse(await upstream.Client.GetStringAsync($"/v1/streams/{upstreamId}", cts.Token)).RootElement;
            Assert.Equal("completed", status.GetProperty("status").GetString());
            var upstreamEvents = await Gateway.ReadEventsAsync(await upstream.Client.GetAsync($"/v1/streams/{upstreamId}/events", HttpCompletionOption.ResponseHeadersRead, cts.Token));
            Assert.Equal("stop", Gateway.FinishReason(upstreamEvents));
            Assert.Equal(Gateway.Content(events), Gateway.Content(upstreamEvents));
        }
    }

    [Fact]
    public async Task Cancel_on_the_gateway_cancels_the_upstreams_stream()
    {
        var (upstream, gateway, ids) = await StartPairAsync();
        await using (upstream)
        await using (gateway)
        {
            var extra = new Dictionary<string, object?> { ["sim_tokens_per_second"] = 50 };
            using var response = await Gateway.PostAsync(gateway, Gateway.Chat("tf/sim", maxTokens: 5000, extra: extra));
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            using var cts = new CancellationTokenSource(Gateway.Timeout);
            var id = response.Headers.GetValues("X-Stream-Id").Single();
            var stream = await response.Content.ReadAsStreamAsync(cts.Token);
            await using var items = SseParser.Create(stream).EnumerateAsync(cts.Token).GetAsyncEnumerator(cts.Token);
            for (var i = 0; i < 3; i++)
            {
                Assert.True(await items.MoveNextAsync());
            }

            (await gateway.Client.PostAsync($"/v1/streams/{id}/cancel", null, cts.Token)).EnsureSuccessStatusCode();
            var upstreamId = Assert.Single(ids.Ids);
            Assert.NotEqual(id, upstreamId);
            string? status = null;
            while (!cts.IsCancellationRequested && status != "cancelled")
            {
                status = JsonDocument.Parse(await upstream.Client.GetStringAsync($"/v1/streams/{upstreamId}", cts.Token)).RootElement.GetProperty("status").GetString();
                if (status != "cancelled")
                {
                    await Task.Delay(20, cts.Token);
                }
            }

            Assert.Equal("cancelled", status);
        }
    }

    [Fact]
    public async Task A_client_that_drops_resumes_on_the_gateway_and_gets_every_token_once()
    {
        var (upstream, gateway, _) = await StartPairAsync();
        await using (upstream)
        await using (gateway)
        {
            var extra = new Dictionary<string, object?> { ["seed"] = 9, ["sim_tokens_per_second"] = 200 };
            using var cts = new CancellationTokenSource(Gateway.Timeout);
            var first = new List<SseItem<string>>();
            string id;
            using (var response = await Gateway.PostAsync(gateway, Gateway.Chat("tf/sim", maxTokens: 60, extra: extra)))
            {
                id = response.Headers.GetValues("X-Stream-Id").Single();
                await using var items = SseParser.Create(await response.Content.ReadAsStreamAsync(cts.Token)).EnumerateAsync(cts.Token).GetAsyncEnumerator(cts.Token);
                while (first.Count < 10 && await items.MoveNextAsync())
                {
                    first.Add(items.Current);
                }
            }

            using var resume = new HttpRequestMessage(HttpMethod.Get, $"/v1/streams/{id}/events");
            resume.Headers.Add("Last-Event-ID", first[^1].EventId);
            using var rest = await gateway.Client.SendAsync(resume, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            var tail = await Gateway.ReadEventsAsync(rest);

            Assert.Equal(SimBackend.ExpectedText(9, 60), Gateway.Content(first) + Gateway.Content(tail));
            Assert.Equal("[DONE]", tail[^1].Data);
        }
    }
}
