using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Tokenflow.Server.Tests.Mcp;

/// <summary>Connects the official C# MCP client to a test server's <c>/mcp</c>, and small helpers over its results.</summary>
internal static class McpTestClient
{
    public static Task<McpClient> ConnectAsync(TestServer server, string? apiKey = null) => ConnectAsync(server.Address, apiKey);

    /// <summary>Connects to <c>/mcp</c> at <paramref name="address"/>; <paramref name="handler"/> (e.g. a <see cref="ConnectionCutter"/>) sees every request.</summary>
    public static Task<McpClient> ConnectAsync(Uri address, string? apiKey = null, HttpMessageHandler? handler = null)
    {
        var options = new HttpClientTransportOptions
        {
            Endpoint = new Uri(address, "/mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = apiKey is null ? null : new Dictionary<string, string> { ["Authorization"] = $"Bearer {apiKey}" },
        };
        var transport = handler is null
            ? new HttpClientTransport(options)
            : new HttpClientTransport(options, new HttpClient(handler) { Timeout = TimeSpan.FromMinutes(2) }, ownsHttpClient: true);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return McpClient.CreateAsync(transport, cancellationToken: timeout.Token);
    }

    /// <summary>
    /// POSTs one raw JSON-RPC message to <c>/mcp</c> as a 2025-11-25 client would (in session
    /// <paramref name="sessionId"/> when given), returning as soon as the headers arrive.
    /// </summary>
    public static Task<HttpResponseMessage> RawPostAsync(TestServer server, string? sessionId, string json)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/mcp") { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");
        request.Headers.Add("MCP-Protocol-Version", "2025-11-25");
        if (sessionId is not null)
        {
            request.Headers.Add("Mcp-Session-Id", sessionId);
        }

        return server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    /// <summary>Opens a raw 2025-11-25 session (initialize, then notifications/initialized) and returns its id.</summary>
    public static async Task<string> RawSessionAsync(TestServer server)
    {
        using var init = await RawPostAsync(server, null, """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}""");
        Assert.Equal(System.Net.HttpStatusCode.OK, init.StatusCode);
        var session = init.Headers.GetValues("Mcp-Session-Id").Single();
        Assert.Contains("\"result\"", await init.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var initialized = await RawPostAsync(server, session, """{"jsonrpc":"2.0","method":"notifications/initialized"}""");
        Assert.Equal(System.Net.HttpStatusCode.Accepted, initialized.StatusCode);
        return session;
    }

    public static async Task<CallToolResult> CallAsync(this McpClient client, string tool, object arguments, ProgressCollector? progress = null, CancellationToken cancellationToken = default)
    {
        var args = JsonSerializer.Deserialize<Dictionary<string, object?>>(JsonSerializer.Serialize(arguments))!;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        return await client.CallToolAsync(tool, args, options: progress?.Options, cancellationToken: timeout.Token);
    }

    /// <summary>The result's structured content, after checking the call succeeded.</summary>
    public static JsonElement Structured(this CallToolResult result)
    {
        Assert.True(result.IsError is not true, $"tool error: {result.Text()}");
        Assert.NotNull(result.StructuredContent);
        return result.StructuredContent.Value;
    }

    /// <summary>The text of the result's text content blocks.</summary>
    public static string Text(this CallToolResult result) => string.Concat(result.Content.OfType<TextContentBlock>().Select(b => b.Text));

    /// <summary>
    /// Collects the progress notifications of one call (by its progress token) as raw notifications.
    /// The C# client dispatches each incoming message on its own task, so notifications can arrive
    /// out of order and after the call's result — an <see cref="IProgress{T}"/> passed to the call
    /// misses those. Order them by <c>progress</c>, and wait for the rest.
    /// </summary>
    public sealed class ProgressCollector : IAsyncDisposable
    {
        private readonly List<(ProgressNotificationParams Params, long ReceivedAt)> _received = [];
        private readonly IAsyncDisposable _registration;
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ProgressCollector(McpClient client)
        {
            Token = new ProgressToken(Guid.NewGuid().ToString("N"));
            _registration = client.RegisterNotificationHandler(NotificationMethods.ProgressNotification, (notification, _) =>
            {
                var timestamp = System.Diagnostics.Stopwatch.GetTimestamp();
                var value = JsonSerializer.Deserialize<ProgressNotificationParams>(notification.Params, McpJsonUtilities.DefaultOptions)!;
                if (value.ProgressToken.Equals(Token))
                {
                    TaskCompletionSource changed;
                    lock (_received)
                    {
                        _received.Add((value, timestamp));
                        changed = _changed;
                        _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
                    }

                    changed.TrySetResult();
                }

                return ValueTask.CompletedTask;
            });
        }

        public ProgressToken Token { get; }

        public RequestOptions Options => new() { ProgressToken = Token };

        /// <summary>The notifications so far, in <c>progress</c> order, with the <see cref="System.Diagnostics.Stopwatch"/> timestamp each arrived at.</summary>
        public IReadOnlyList<(ProgressNotificationParams Params, long ReceivedAt)> Received
        {
            get
            {
                lock (_received)
                {
                    return [.. _received.OrderBy(r => r.Params.Progress.Progress)];
                }
            }
        }

        /// <summary>The messages so far, concatenated in <c>progress</c> order.</summary>
        public string Text => string.Concat(Received.Select(r => r.Params.Progress.Message));

        public async Task WaitUntilAsync(Func<ProgressCollector, bool> condition, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                Task changed;
                lock (_received)
                {
                    changed = _changed.Task;
                }

                if (condition(this))
                {
                    return;
                }

                var left = deadline - DateTime.UtcNow;
                Assert.True(left > TimeSpan.Zero, $"timed out waiting for progress; got {Received.Count}: '{Text}'");
                await Task.WhenAny(changed, Task.Delay(left));
            }
        }

        public ValueTask DisposeAsync() => _registration.DisposeAsync();
    }
}
