using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Tests.OpenAi;

namespace Tokenflow.Server.Tests.Mcp;

public sealed class McpCancellationTests
{
    // A long resume grace: a stream that stops was stopped by the call's cancellation, not by its reader leaving.
    private static readonly string[] LongGrace = ["--Tokenflow:Streams:ResumeGrace", "00:05:00"];

    [Fact]
    public async Task A_notifications_cancelled_stops_a_resumable_generate_call_at_once()
    {
        // The call's response stays open (and a dropped one would not cancel within the long grace): the notification does it.
        var counter = new CancellationTests.CountingBackend();
        await using var server = await TestServer.StartAsync(LongGrace, b => b.Services.AddSingleton(new ModelEntry("counted", "test", counter)));
        var session = await McpTestClient.RawSessionAsync(server);
        using var response = await McpTestClient.RawPostAsync(server, session, """
            {"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"generate","arguments":{"model":"counted","prompt":"hi","max_tokens":1000000},"_meta":{"progressToken":"p"}}}
            """);
        var id = await StreamIdAsync(response);

        using var cancelled = await McpTestClient.RawPostAsync(server, session, """{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"test"}}""");
        Assert.Equal(HttpStatusCode.Accepted, cancelled.StatusCode);

        var status = await CancellationTests.WaitForEndAsync(server.GetService<IStreamStore>(), id, TimeSpan.FromSeconds(10));
        Assert.Equal(StreamState.Cancelled, status.State);
        await counter.Disposed.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Cancelling_a_stateless_generate_call_cancels_its_generation_at_once()
    {
        // The C# client cancels by closing the call's response (it sends notifications/cancelled only once a request has
        // been sent, and over Streamable HTTP that is when its response has been read); stateless, that is the call's end.
        const string sessionMode = "Stateless";
        var counter = new CancellationTests.CountingBackend();
        await using var server = await TestServer.StartAsync([.. LongGrace, "--Tokenflow:Mcp:SessionMode", sessionMode], b => b.Services.AddSingleton(new ModelEntry("counted", "test", counter)));
        await using var client = await McpTestClient.ConnectAsync(server);
        await using var progress = new McpTestClient.ProgressCollector(client);
        using var cancel = new CancellationTokenSource();
        var call = client.CallAsync("generate", new { model = "counted", prompt = "hi", max_tokens = 1_000_000 }, progress, cancel.Token);
        await progress.WaitUntilAsync(p => p.Received is [{ Params.Progress.Progress: 1 }, ..], TimeSpan.FromSeconds(10));
        var id = progress.Received[0].Params.Meta!["tokenflow/stream_id"]!.GetValue<string>();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        var status = await CancellationTests.WaitForEndAsync(server.GetService<IStreamStore>(), id, TimeSpan.FromSeconds(10));
        Assert.Equal(StreamState.Cancelled, status.State);
        await counter.Disposed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(counter.Produced < 1_000_000);
    }

    [Fact]
    public async Task Closing_the_http_response_of_a_stateless_generate_call_cancels_its_generation()
    {
        // Stateless: nothing can resume the call, so its closed response is its end.
        var counter = new CancellationTests.CountingBackend();
        await using var server = await TestServer.StartAsync([.. LongGrace, "--Tokenflow:Mcp:SessionMode", "Stateless"], b => b.Services.AddSingleton(new ModelEntry("counted", "test", counter)));
        const string call = """
            {"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"generate","arguments":{"model":"counted","prompt":"hi","max_tokens":1000000},"_meta":{"progressToken":"p"}}}
            """;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/mcp") { Content = new StringContent(call, Encoding.UTF8, "application/json") };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        request.Headers.Add("MCP-Protocol-Version", "2025-11-25");

        var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var id = await StreamIdAsync(response);
        response.Dispose();

        var status = await CancellationTests.WaitForEndAsync(server.GetService<IStreamStore>(), id, TimeSpan.FromSeconds(10));
        Assert.Equal(StreamState.Cancelled, status.State);
        await counter.Disposed.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>Reads a raw call's SSE response up to its first progress notification and returns the stream it names.</summary>
    private static async Task<string> StreamIdAsync(HttpResponseMessage response)
    {
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var body = new StreamReader(await response.Content.ReadAsStreamAsync());
        string? line;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while ((line = await body.ReadLineAsync(timeout.Token)) is not null && !line.Contains("tokenflow/stream_id", StringComparison.Ordinal))
        {
        }

        Assert.NotNull(line);
        return System.Text.RegularExpressions.Regex.Match(line, "\"tokenflow/stream_id\":\"([^\"]+)\"").Groups[1].Value;
    }
}
