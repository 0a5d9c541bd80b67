using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Tokenflow.Cli.Bench;

/// <summary>
/// An MCP server, over Streamable HTTP (<c>--mcp URL</c>) or stdio (<c>--mcp-stdio "command args"</c>), through the
/// official ModelContextProtocol SDK's client: each worker is one initialized session (one process for stdio) that
/// calls <see cref="BenchSettings.Tool"/> with a progress token, one call at a time. Progress notifications are
/// timed in a notification handler of the session (the SDK calls it as it reads each message), and their
/// <c>progress</c> values give the notifications lost. A cancel is <c>notifications/cancelled</c>; its latency is cancel sent → the server's last byte for that call: over HTTP the
/// end of the call's response stream (<see cref="McpResponseTap"/> keeps reading it); over stdio, where there is no
/// per-call stream, the last progress notification of the call that still arrives. The SDK's client sends no
/// <c>notifications/cancelled</c> of its own when a call's token fires, so the worker names its request id and sends it.
/// </summary>
internal sealed class McpTarget : BenchTarget
{
    private readonly BenchSettings _settings;
    private readonly Dictionary<string, JsonElement> _arguments;
    private int _workers;

    public McpTarget(BenchTargetSpec spec, BenchSettings settings)
        : base(spec)
    {
        _settings = settings;
        _arguments = settings.EffectiveToolArguments().ToDictionary(p => p.Key, p => ToElement(p.Value), StringComparer.Ordinal);
    }

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static JsonElement ToElement(JsonNode? node)
    {
        using var document = JsonDocument.Parse(node?.ToJsonString() ?? "null");
        return document.RootElement.Clone();
    }

    public override async Task<BenchWorker> ConnectAsync(CancellationToken cancellationToken)
    {
        var n = Interlocked.Increment(ref _workers);
        McpResponseTap? tap = null;
        HttpClient? http = null;
        IClientTransport transport;
        if (Spec.Kind == BenchTargetKind.McpStdio)
        {
            var words = CommandLineWords.Split(Spec.Address);
            if (words.Count == 0)
            {
                throw new ArgumentException("--mcp-stdio needs a command.");
            }

            transport = new StdioClientTransport(new StdioClientTransportOptions
            {
                Name = $"bench-{n}",
                Command = words[0],
                Arguments = [.. words.Skip(1)],
                ShutdownTimeout = TimeSpan.FromSeconds(5),
            });
        }
        else
        {
            tap = new McpResponseTap(_settings.CancelWait);
            http = new HttpClient(tap) { Timeout = Timeout.InfiniteTimeSpan };
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (name, value) in _settings.Headers)
            {
                headers[name] = value;
            }

            if (_settings.ApiKey is { Length: > 0 } key && !headers.ContainsKey("Authorization"))
            {
                headers["Authorization"] = "Bearer " + key;
            }

            transport = new HttpClientTransport(
                new HttpClientTransportOptions
                {
                    Endpoint = new Uri(Spec.Address),
                    Name = $"bench-{n}",
                    TransportMode = HttpTransportMode.StreamableHttp,
                    AdditionalHeaders = headers,
                    EnableStandaloneGetStream = false,
                },
                http,
                ownsHttpClient: false);
        }

        try
        {
            var client = await McpClient.CreateAsync(
                transport,
                new McpClientOptions { ClientInfo = new Implementation { Name = "tokenflow-bench", Version = typeof(McpTarget).Assembly.GetName().Version?.ToString() ?? "1.0" } },
                cancellationToken: cancellationToken).ConfigureAwait(false);
            return new Worker(this, client, tap, http, n);
        }
        catch
        {
            http?.Dispose();
            throw;
        }
    }

    private sealed class Worker : BenchWorker
    {
        private readonly McpTarget _target;
        private readonly McpClient _client;
        private readonly McpResponseTap? _tap;
        private readonly HttpClient? _http;
        private readonly string _prefix;
        private readonly IAsyncDisposable _handler;

        // Calls by progress token: the running one and the one before, whose last notifications the SDK may still
        // hand over after its result. Cancelled calls' tokens map to the time of their latest notification.
        private readonly ConcurrentDictionary<string, (CallObserver Call, TaskCompletionSource CancelDue)> _calls = new(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, long> _lateNotifications = new(StringComparer.Ordinal);
        private string? _previousToken;
        private string? _currentToken;
        private long _count;

        public Worker(McpTarget target, McpClient client, McpResponseTap? tap, HttpClient? http, int n)
        {
            _target = target;
            _client = client;
            _tap = tap;
            _http = http;
            _prefix = $"bench-{n}-";
            _handler = client.RegisterNotificationHandler(NotificationMethods.ProgressNotification, OnProgress);
        }

        public override async Task CallAsync(CallObserver call, CancellationToken cancellationToken)
        {
            var token = _prefix + Interlocked.Increment(ref _count).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var cancelDue = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_previousToken is { } older)
            {
                _calls.TryRemove(older, out _);
            }

            (_previousToken, _currentToken) = (_currentToken, token);
            _calls[token] = (call, cancelDue);
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(_target._settings.RequestTimeout);
            var request = new CallToolRequestParams { Name = _target._settings.Tool, Arguments = _target._arguments, Meta = new JsonObject { ["progressToken"] = token } };

            // The request id is ours (the progress token), so a cancel can name it: the SDK's client does not send
            // notifications/cancelled when a call's token fires (measured: both Tokenflow's and the TypeScript SDK's
            // servers ran the tool to its end), so the worker sends it itself.
            var id = new RequestId(token);
            try
            {
                var callTask = _client.SendRequestAsync<CallToolRequestParams, CallToolResult>(RequestMethods.ToolsCall, request, McpJsonUtilities.DefaultOptions, id, cts.Token).AsTask();
                if (_target._settings.CancelAfter is not null && await Task.WhenAny(callTask, cancelDue.Task).ConfigureAwait(false) != callTask)
                {
                    await CancelAsync(call, callTask, token, id, cts, cancellationToken).ConfigureAwait(false);
                    return;
                }

                var result = await callTask.ConfigureAwait(false);
                var now = Stopwatch.GetTimestamp();
                if (result.IsError == true)
                {
                    call.Failed("tool_error");
                }
                else
                {
                    call.Completed(now, -1);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                call.Stopped();
            }
            catch (OperationCanceledException)
            {
                call.Failed("timeout");
            }
            catch (McpProtocolException ex)
            {
                call.Failed($"mcp_{(int)ex.ErrorCode}");
            }
            catch (McpException)
            {
                call.Failed("mcp_error");
            }
            catch (HttpRequestException ex)
            {
                call.Failed(ex.HttpRequestError == HttpRequestError.Unknown ? "http_request_error" : $"http_{ex.HttpRequestError}");
            }
            catch (IOException)
            {
                call.Failed("connection_lost");
            }
        }

        public override async Task FinishAsync()
        {
            // The SDK may dispatch the last call's final notifications after its result: give them a moment.
            await Task.Delay(TimeSpan.FromMilliseconds(200)).ConfigureAwait(false);
            _calls.Clear();
        }

        public override async ValueTask DisposeAsync()
        {
            await _handler.DisposeAsync().ConfigureAwait(false);
            await _client.DisposeAsync().ConfigureAwait(false);
            _http?.Dispose();
        }

        private async Task CancelAsync(CallObserver call, Task<CallToolResult> callTask, string token, RequestId id, CancellationTokenSource cts, CancellationToken stop)
        {
            var stream = _tap?.Current;
            _lateNotifications[token] = 0;
            call.OnCancelSent(Stopwatch.GetTimestamp());
            try
            {
                await _client.SendNotificationAsync(NotificationMethods.CancelledNotification, new CancelledNotificationParams { RequestId = id, Reason = "tokenflow bench --cancel-after" }, McpJsonUtilities.DefaultOptions, stop).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is McpException or HttpRequestException or IOException)
            {
                // Could not tell the server: closing the call below is all that is left.
            }

            // Stop waiting for a result (a cancelled request gets none); over HTTP the tap keeps its stream open.
            await cts.CancelAsync().ConfigureAwait(false);
            try
            {
                await callTask.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or McpException or HttpRequestException or IOException)
            {
            }

            if (stream is not null)
            {
                long lastByte;
                bool ended;
                try
                {
                    (lastByte, ended) = await stream.Drained.WaitAsync(_target._settings.CancelWait + TimeSpan.FromSeconds(1), stop).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    (lastByte, ended) = (stream.LastByte, false);
                }

                _lateNotifications.TryRemove(token, out _);
                call.CancelEnded(lastByte == 0 ? null : lastByte, ended);
                return;
            }

            // stdio: the call's notifications keep coming through the session until the server stops sending them;
            // wait for a quiet spell, within the cancel wait, then take the last one's time.
            var quiet = TimeSpan.FromMilliseconds(300);
            var deadline = Stopwatch.GetTimestamp() + (long)(_target._settings.CancelWait.TotalSeconds * Stopwatch.Frequency);
            var seen = -1L;
            while (Stopwatch.GetTimestamp() < deadline)
            {
                await Task.Delay(quiet, stop).ConfigureAwait(false);
                var latest = _lateNotifications.GetValueOrDefault(token);
                if (latest == seen)
                {
                    break;
                }

                seen = latest;
            }

            // A server that stops at once sends nothing more: its last byte for the call came before the cancel (0 ms).
            _lateNotifications.TryRemove(token, out var last);
            call.CancelEnded(Math.Max(last, call.CancelSent), confirmed: Stopwatch.GetTimestamp() < deadline);
        }

        private ValueTask OnProgress(JsonRpcNotification notification, CancellationToken cancellationToken)
        {
            var now = Stopwatch.GetTimestamp();
            if (notification.Params is not JsonObject p || p["progressToken"] is not JsonValue tokenValue || !tokenValue.TryGetValue<string>(out var token))
            {
                return ValueTask.CompletedTask;
            }

            if (_lateNotifications.ContainsKey(token))
            {
                _lateNotifications[token] = now;
            }

            if (!_calls.TryGetValue(token, out var entry))
            {
                return ValueTask.CompletedTask;
            }

            var progress = p["progress"] is JsonValue v && v.TryGetValue<double>(out var d) ? d : double.NaN;
            entry.Call.OnProgress(now, progress);
            if (entry.Call.CancelDue)
            {
                entry.CancelDue.TrySetResult();
            }

            return ValueTask.CompletedTask;
        }
    }
}
