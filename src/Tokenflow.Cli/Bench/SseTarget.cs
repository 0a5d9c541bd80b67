using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Tokenflow.Cli.Bench;

/// <summary>
/// A streaming HTTP door: OpenAI chat completions, Anthropic Messages or OpenAI Responses. Workers share one
/// <see cref="SocketsHttpHandler"/> (one connection each); the request body is built once, responses are scanned
/// as raw bytes in pooled buffers (<see cref="SseScanner"/>). A cancel is <c>POST /v1/streams/{id}/cancel</c> for
/// the stream the response names in <c>X-Stream-Id</c> (every Tokenflow door does), after which the response is read
/// to its end: cancel latency is cancel sent → the server's last byte. A server that names no stream is cancelled by
/// closing the connection, whose effect a client cannot see: counted as unconfirmed.
/// </summary>
internal sealed class SseTarget : BenchTarget
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    private readonly BenchSettings _settings;
    private readonly Uri _endpoint;
    private readonly SseFormat _format;
    private readonly byte[] _body;
    private readonly SocketsHttpHandler _handler;
    private readonly HttpClient _http;

    public SseTarget(BenchTargetSpec spec, BenchSettings settings)
        : base(spec)
    {
        _settings = settings;
        (_format, var path) = spec.Kind switch
        {
            BenchTargetKind.AnthropicMessages => (SseFormat.AnthropicMessages, "/messages"),
            BenchTargetKind.Responses => (SseFormat.Responses, "/responses"),
            _ => (SseFormat.ChatCompletions, "/chat/completions"),
        };
        _endpoint = BenchSettings.EndpointFor(new Uri(spec.Address), path);
        _body = BuildBody(settings, _format);
        _handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = settings.Concurrency + 1,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            ConnectTimeout = TimeSpan.FromSeconds(15),
            AutomaticDecompression = DecompressionMethods.None,
            UseProxy = false,
            UseCookies = false,
            EnableMultipleHttp2Connections = true,
        };
        _http = new HttpClient(_handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The endpoint requests go to.</summary>
    public Uri Endpoint => _endpoint;

    public override Task<BenchWorker> ConnectAsync(CancellationToken cancellationToken) => Task.FromResult<BenchWorker>(new Worker(this));

    public override ValueTask DisposeAsync()
    {
        _http.Dispose();
        _handler.Dispose();
        return ValueTask.CompletedTask;
    }

    internal static byte[] BuildBody(BenchSettings settings, SseFormat format)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("model"u8, settings.Model);
            if (format == SseFormat.Responses)
            {
                w.WriteString("input"u8, settings.Prompt);
                w.WriteNumber("max_output_tokens"u8, settings.MaxTokens);
            }
            else
            {
                w.WriteStartArray("messages"u8);
                w.WriteStartObject();
                w.WriteString("role"u8, "user"u8);
                w.WriteString("content"u8, settings.Prompt);
                w.WriteEndObject();
                w.WriteEndArray();
                w.WriteNumber("max_tokens"u8, settings.MaxTokens);
            }

            w.WriteBoolean("stream"u8, true);
            if (format == SseFormat.ChatCompletions)
            {
                w.WriteStartObject("stream_options"u8);
                w.WriteBoolean("include_usage"u8, true);
                w.WriteEndObject();
            }

            foreach (var (name, value) in settings.Extra ?? [])
            {
                w.WritePropertyName(name);
                if (value is null)
                {
                    w.WriteNullValue();
                }
                else
                {
                    value.WriteTo(w);
                }
            }

            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private HttpRequestMessage NewRequest(Uri uri, byte[] body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(body) { Headers = { ContentType = Json } } };
        if (_settings.ApiKey is { Length: > 0 } key)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            if (_format == SseFormat.AnthropicMessages)
            {
                request.Headers.TryAddWithoutValidation("x-api-key", key);
            }
        }

        if (_format == SseFormat.AnthropicMessages)
        {
            request.Headers.TryAddWithoutValidation("anthropic-version", "2023-06-01");
        }

        foreach (var (name, value) in _settings.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }

    private Uri CancelUri(string streamId)
    {
        var text = _endpoint.ToString();
        var v1 = text.LastIndexOf("/v1/", StringComparison.Ordinal);
        return new Uri(text[..(v1 + 4)] + "streams/" + Uri.EscapeDataString(streamId) + "/cancel");
    }

    private sealed class Worker(SseTarget target) : BenchWorker
    {
        private readonly byte[] _buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        private readonly SseScanner _scanner = new(target._format);

        public override async Task CallAsync(CallObserver call, CancellationToken cancellationToken)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(target._settings.RequestTimeout);
            var usageTokens = -1;
            try
            {
                using var request = target.NewRequest(target._endpoint, target._body);
                using var response = await target._http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                if (!response.IsSuccessStatusCode)
                {
                    call.Failed($"http_{(int)response.StatusCode}");
                    return;
                }

                var streamId = response.Headers.TryGetValues("X-Stream-Id", out var ids) ? ids.FirstOrDefault() : null;
                await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
                _scanner.Reset();
                var done = false;
                long lastByte = 0;
                while (true)
                {
                    var read = await body.ReadAsync(_buffer, timeout.Token);
                    if (read == 0)
                    {
                        break;
                    }

                    var now = Stopwatch.GetTimestamp();
                    lastByte = now;
                    var scan = _scanner.Scan(_buffer.AsSpan(0, read));
                    call.OnPartials(now, scan.TokenEvents);
                    usageTokens = scan.UsageTokens >= 0 ? scan.UsageTokens : usageTokens;
                    if (scan.Error)
                    {
                        call.Failed("stream_error");
                        return;
                    }

                    done |= scan.Done;
                    if (done && call.CancelSent == 0)
                    {
                        break;
                    }

                    if (call.CancelDue)
                    {
                        if (streamId is null)
                        {
                            call.OnCancelSent(Stopwatch.GetTimestamp());
                            call.CancelEnded(null, confirmed: false);
                            return;
                        }

                        call.OnCancelSent(Stopwatch.GetTimestamp());
                        using var cancel = target.NewRequest(target.CancelUri(streamId), []);
                        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                        wait.CancelAfter(target._settings.CancelWait);
                        timeout.CancelAfter(target._settings.CancelWait);
                        using var acknowledged = await target._http.SendAsync(cancel, wait.Token);
                    }
                }

                if (call.CancelSent != 0)
                {
                    call.CancelEnded(lastByte, confirmed: true);
                }
                else if (done)
                {
                    call.Completed(lastByte, usageTokens);
                }
                else
                {
                    call.Failed("incomplete_stream");
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                call.Stopped();
            }
            catch (OperationCanceledException) when (call.CancelSent != 0)
            {
                call.CancelEnded(null, confirmed: false);
            }
            catch (OperationCanceledException)
            {
                call.Failed("timeout");
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

        public override ValueTask DisposeAsync()
        {
            _scanner.Dispose();
            ArrayPool<byte>.Shared.Return(_buffer);
            return ValueTask.CompletedTask;
        }
    }
}
