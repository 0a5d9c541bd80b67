using System.Collections.Concurrent;
using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Tokenflow.Core.Sim;
using Tokenflow.Server.Tests.Mcp;

namespace Tokenflow.Redis.Tests;

/// <summary>MCP across two server processes sharing Redis: the session migrates and the SSE events come from the store.</summary>
public sealed class McpScaleOutTests(ScaleOutFixture fixture) : IClassFixture<ScaleOutFixture>
{
    [Fact]
    public async Task A_generate_call_cut_on_A_resumes_on_B_with_the_rest_and_the_result_once()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var cutter = new ConnectionCutter(cutAfterProgress: 20) { ResumeAt = fixture.B.Address };
        var transport = new HttpClientTransport(
            new HttpClientTransportOptions { Endpoint = new Uri(fixture.A.Address, "/mcp"), TransportMode = HttpTransportMode.StreamableHttp },
            new HttpClient(cutter) { Timeout = TimeSpan.FromMinutes(2) },
            ownsHttpClient: true);
        await using var client = await McpClient.CreateAsync(transport, cancellationToken: timeout.Token);
        var token = new ProgressToken("resume-on-b");
        var received = new ConcurrentQueue<ProgressNotificationValue>();
        await using var registration = client.RegisterNotificationHandler(NotificationMethods.ProgressNotification, (notification, _) =>
        {
            var value = JsonSerializer.Deserialize<ProgressNotificationParams>(notification.Params, McpJsonUtilities.DefaultOptions)!;
            if (value.ProgressToken.Equals(token))
            {
                received.Enqueue(value.Progress);
            }

            return ValueTask.CompletedTask;
        });

        var args = new Dictionary<string, object?> { ["model"] = "sim", ["prompt"] = "x", ["max_tokens"] = 200, ["seed"] = 13, ["sim_tokens_per_second"] = 400 };
        var result = await client.CallToolAsync("generate", args, options: new RequestOptions { ProgressToken = token }, cancellationToken: timeout.Token);

        Assert.True(cutter.Cut.Task.IsCompleted, "the call's response was never cut");
        Assert.True(cutter.Resumes >= 1, "the client never resumed");
        Assert.True(result.IsError is not true, string.Concat(result.Content.OfType<TextContentBlock>().Select(b => b.Text)));
        var text = result.StructuredContent!.Value.GetProperty("text").GetString()!;
        Assert.Equal(SimBackend.ExpectedText(13, 200), text);

        // The C# client dispatches notifications on their own tasks: wait until all have landed.
        while (string.Concat(received.Select(p => p.Message)).Length < text.Length)
        {
            Assert.False(timeout.IsCancellationRequested, $"only {received.Count} notifications arrived");
            await Task.Delay(20, timeout.Token);
        }

        var ordered = received.OrderBy(p => p.Progress).ToList();
        Assert.Equal(Enumerable.Range(1, ordered.Count).Select(i => (float)i), ordered.Select(p => p.Progress));
        Assert.Equal(text, string.Concat(ordered.Select(p => p.Message)));
    }
}
