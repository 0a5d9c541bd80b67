using Microsoft.Extensions.DependencyInjection;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Sim;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Tests.OpenAi;

namespace Tokenflow.Server.Tests.Mcp;

/// <summary>Stateful <c>/mcp</c> (the default): SSE events kept in the stream store, resumed with <c>Last-Event-ID</c>.</summary>
public sealed class McpResumabilityTests
{
    // A long resume grace, so a call's end is the call's doing, not its caller's absence.
    private static readonly string[] LongGrace = ["--Tokenflow:Streams:ResumeGrace", "00:05:00"];

    [Fact]
    public async Task A_generate_call_cut_after_N_notifications_resumes_with_the_rest_and_the_result_once()
    {
        await using var server = await TestServer.StartAsync(LongGrace);
        var cutter = new ConnectionCutter(cutAfterProgress: 20);
        await using var client = await McpTestClient.ConnectAsync(server.Address, handler: cutter);
        await using var progress = new McpTestClient.ProgressCollector(client);

        var result = await client.CallAsync("generate", new { model = "sim", prompt = "x", max_tokens = 200, seed = 9, sim_tokens_per_second = 400 }, progress);

        Assert.True(cutter.Cut.Task.IsCompleted, "the call's response was never cut");
        Assert.True(cutter.Resumes >= 1, "the client never resumed");
        var text = result.Structured().GetProperty("text").GetString()!;
        Assert.Equal(SimBackend.ExpectedText(9, 200), text);
        await progress.WaitUntilAsync(p => p.Text.Length >= text.Length, TimeSpan.FromSeconds(30));
        var received = progress.Received;
        Assert.Equal(Enumerable.Range(1, received.Count).Select(i => (float)i), received.Select(r => r.Params.Progress.Progress));
        Assert.Equal(text, progress.Text);
        Assert.All(received, r => Assert.Equal(200f, r.Params.Progress.Total));
    }

    [Fact]
    public async Task A_dropped_resumable_call_is_not_a_cancellation()
    {
        await using var server = await TestServer.StartAsync(LongGrace);
        var cutter = new ConnectionCutter(cutAfterProgress: 3) { RefuseResumes = true };
        await using var client = await McpTestClient.ConnectAsync(server.Address, handler: cutter);
        await using var progress = new McpTestClient.ProgressCollector(client);

        var call = client.CallAsync("generate", new { model = "sim", prompt = "x", max_tokens = 300, seed = 4, sim_tokens_per_second = 300 }, progress);
        await progress.WaitUntilAsync(p => p.Received is [{ Params.Progress.Progress: 1 }, ..], TimeSpan.FromSeconds(10));
        var id = progress.Received[0].Params.Meta!["tokenflow/stream_id"]!.GetValue<string>();
        await cutter.Cut.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var status = await CancellationTests.WaitForEndAsync(server.GetService<IStreamStore>(), id, TimeSpan.FromSeconds(30));
        Assert.Equal(StreamState.Completed, status.State);
        Assert.Equal(300, status.Usage.CompletionTokens);
        _ = call.ContinueWith(static _ => { }, TaskScheduler.Default);
    }

    [Fact]
    public async Task A_dropped_call_nobody_resumes_stops_after_the_resume_grace()
    {
        var counter = new CancellationTests.CountingBackend();
        await using var server = await TestServer.StartAsync(
            ["--Tokenflow:Streams:ResumeGrace", "00:00:00.300"],
            b => b.Services.AddSingleton(new ModelEntry("counted", "test", counter)));
        var cutter = new ConnectionCutter(cutAfterProgress: 3) { RefuseResumes = true };
        await using var client = await McpTestClient.ConnectAsync(server.Address, handler: cutter);
        await using var progress = new McpTestClient.ProgressCollector(client);

        var call = client.CallAsync("generate", new { model = "counted", prompt = "hi", max_tokens = 1_000_000 }, progress);
        await progress.WaitUntilAsync(p => p.Received is [{ Params.Progress.Progress: 1 }, ..], TimeSpan.FromSeconds(10));
        var id = progress.Received[0].Params.Meta!["tokenflow/stream_id"]!.GetValue<string>();
        await cutter.Cut.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var status = await CancellationTests.WaitForEndAsync(server.GetService<IStreamStore>(), id, TimeSpan.FromSeconds(30));
        Assert.Equal(StreamState.Cancelled, status.State);
        await counter.Disposed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(counter.Produced < 1_000_000);
        _ = call.ContinueWith(static _ => { }, TaskScheduler.Default);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("mcpsse-AAAAAAAAAAAAAAAAAAAAAA/3")]
    [InlineData("mcpsse-AAAAAAAAAAAAAAAAAAAAAA/-1")]
    public async Task A_resume_with_an_unknown_last_event_id_gets_400(string lastEventId)
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await McpTestClient.ConnectAsync(server);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/mcp");
        request.Headers.Accept.ParseAdd("text/event-stream");
        request.Headers.Add("Mcp-Session-Id", client.SessionId);
        request.Headers.Add("MCP-Protocol-Version", client.NegotiatedProtocolVersion);
        request.Headers.Add("Last-Event-ID", lastEventId);
        using var response = await server.Client.SendAsync(request);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("Last-Event-ID", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
