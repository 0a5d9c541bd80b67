using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tokenflow.Cli.Tests.Bench;

public sealed class BenchLoadShapeTests
{
    [Fact]
    public async Task Open_loop_shows_a_server_stall_in_p99_that_closed_loop_hides()
    {
        await using var app = await StallingServerAsync();
        var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        var (closedCode, closedRun) = await CliRun.RunAsync("bench", "--url", url, "-c", "4", "--duration", "4s", "--json");
        var (openCode, openRun) = await CliRun.RunAsync("bench", "--url", url, "-c", "4", "--rate", "100/s", "--duration", "4s", "--json");

        Assert.Equal(0, closedCode);
        Assert.Equal(0, openCode);
        var closed = JsonDocument.Parse(closedRun.Out).RootElement;
        var open = JsonDocument.Parse(openRun.Out).RootElement;
        Assert.Equal("closed", closed.GetProperty("load").GetProperty("shape").GetString());
        Assert.Equal("open", open.GetProperty("load").GetProperty("shape").GetString());
        Assert.Equal(100, open.GetProperty("load").GetProperty("rate_per_second").GetDouble());
        var closedFirst = closed.GetProperty("targets")[0].GetProperty("first_partial_ms");
        var openFirst = open.GetProperty("targets")[0].GetProperty("first_partial_ms");

        // Closed loop: the four requests caught in each stall wait (max), but back-to-back requests outnumber them by
        // hundreds, so p99 stays low. Open loop: every request due during a stall is late by what is left of it
        // (~20% of them at 100/s), measured from its scheduled time — p99 shows the stall.
        Assert.InRange(closedFirst.GetProperty("max").GetDouble(), 100, 10_000);
        Assert.InRange(openFirst.GetProperty("p99").GetDouble(), 100, 10_000);
        Assert.True(closedFirst.GetProperty("p99").GetDouble() < openFirst.GetProperty("p99").GetDouble() / 2, $"closed p99 {closedFirst.GetProperty("p99")} vs open p99 {openFirst.GetProperty("p99")}");
        Assert.InRange(open.GetProperty("targets")[0].GetProperty("requests").GetProperty("completed").GetInt32(), 300, 401);
    }

    /// <summary>A chat completions endpoint that answers one token at once, except in the first 200 ms of every second.</summary>
    private static async Task<WebApplication> StallingServerAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Urls.Add("http://127.0.0.1:0");
        var clock = Stopwatch.StartNew();
        app.MapPost("/v1/chat/completions", async (HttpContext context) =>
        {
            var phase = clock.Elapsed.TotalMilliseconds % 1000;
            if (phase < 200)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200 - phase), context.RequestAborted);
            }

            context.Response.ContentType = "text/event-stream";
            await context.Response.WriteAsync("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]\n\n", context.RequestAborted);
        });
        await app.StartAsync();
        return app;
    }
}
