using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Tokenflow.Server.Tests.Mcp;

/// <summary>Connects the official C# MCP client to a test server's <c>/mcp</c>, and small helpers over its results.</summary>
internal static class McpTestClient
{
    public static Task<McpClient> ConnectAsync(TestServer server, string? apiKey = null)
    {
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(server.Address, "/mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = apiKey is null ? null : new Dictionary<string, string> { ["Authorization"] = $"Bearer {apiKey}" },
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return McpClient.CreateAsync(transport, cancellationToken: timeout.Token);
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
