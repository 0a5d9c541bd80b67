using System.Globalization;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Tokenflow.Client;

/// <summary>
/// Client of a Tokenflow server (or any OpenAI-compatible endpoint) over HTTP. Streams chat completions
/// as typed events parsed with <see cref="System.Net.ServerSentEvents.SseParser"/>; when a connection
/// drops mid-stream it resumes from the last event seen (<c>Last-Event-ID</c>), so the caller sees every
/// event exactly once; when the caller stops reading early, it cancels the stream on the server.
/// Thread-safe: one instance serves any number of concurrent streams.
/// </summary>
public sealed class TokenflowClient : IDisposable
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");
    private static readonly MediaTypeWithQualityHeaderValue EventStream = new("text/event-stream");

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly Uri _root;

    /// <summary>
    /// Creates a client for the server at <paramref name="baseAddress"/> (for example
    /// <c>http://127.0.0.1:8080</c>; a trailing <c>/v1</c> is accepted) with its own connection pool.
    /// </summary>
    public TokenflowClient(Uri baseAddress, TokenflowClientOptions? options = null)
        : this(new HttpClient(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1), ConnectTimeout = TimeSpan.FromSeconds(15) }) { Timeout = TimeSpan.FromMinutes(5) }, options, baseAddress, ownsHttp: true)
    {
    }

    /// <summary>
    /// Creates a client over <paramref name="httpClient"/>, whose <see cref="HttpClient.BaseAddress"/> names
    /// the server. The caller keeps ownership of <paramref name="httpClient"/>. Its
    /// <see cref="HttpClient.Timeout"/> bounds the wait for response headers only, not the stream.
    /// </summary>
    public TokenflowClient(HttpClient httpClient, TokenflowClientOptions? options = null)
        : this(httpClient, options, httpClient.BaseAddress ?? throw new ArgumentException("The HttpClient needs a BaseAddress.", nameof(httpClient)), ownsHttp: false)
    {
    }

    private TokenflowClient(HttpClient http, TokenflowClientOptions? options, Uri baseAddress, bool ownsHttp)
    {
        _http = http;
        _ownsHttp = ownsHttp;
        _root = NormalizeRoot(baseAddress);
        Options = options ?? new TokenflowClientOptions();
    }

    /// <summary>The server's root address (without <c>/v1</c>).</summary>
    public Uri BaseAddress => _root;

    /// <summary>The options this client was created with.</summary>
    public TokenflowClientOptions Options { get; }

    /// <summary>
    /// Starts a streamed chat completion and yields its events as they arrive. A dropped connection is
    /// resumed transparently (bounded by <see cref="TokenflowClientOptions.MaxResumeAttempts"/>); cancelling
    /// <paramref name="cancellationToken"/> or leaving the loop early cancels the generation on the server.
    /// Errors before or during the stream throw <see cref="TokenflowException"/>.
    /// </summary>
    public IAsyncEnumerable<ChatStreamEvent> StreamChatAsync(ChatRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var body = ChatRequestJson.ToUtf8(request);
        var cancelOnAbandon = Options.CancelOnAbandon && request.Background != true;
        return ReadStreamAsync(ct => StartAsync(body, ct), streamId: null, after: 0, cancelOnAbandon, cancellationToken);
    }

    /// <summary>
    /// Reads an existing stream from the event after <paramref name="afterSeq"/> (0 = from the start) until its
    /// end, with the same resume guarantees as <see cref="StreamChatAsync"/>. Leaving early does not cancel
    /// the stream: it was started elsewhere.
    /// </summary>
    public IAsyncEnumerable<ChatStreamEvent> ResumeStreamAsync(string streamId, long afterSeq = 0, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(streamId);
        ArgumentOutOfRangeException.ThrowIfNegative(afterSeq);
        return ReadStreamAsync(null, streamId, afterSeq, cancelOnAbandon: false, cancellationToken);
    }

    /// <summary>The status of a stream (<c>GET /v1/streams/{id}</c>).</summary>
    public async Task<TokenflowStream> GetStreamAsync(string streamId, CancellationToken cancellationToken = default)
    {
        using var request = CreateRequest(HttpMethod.Get, $"v1/streams/{Uri.EscapeDataString(streamId)}");
        return await SendForStatusAsync(request, streamId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops a stream's generation (<c>POST /v1/streams/{id}/cancel</c>) and returns its final status.</summary>
    public async Task<TokenflowStream> CancelStreamAsync(string streamId, CancellationToken cancellationToken = default)
    {
        using var request = CreateRequest(HttpMethod.Post, $"v1/streams/{Uri.EscapeDataString(streamId)}/cancel");
        return await SendForStatusAsync(request, streamId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The ids of the models the server offers (<c>GET /v1/models</c>).</summary>
    public async Task<IReadOnlyList<string>> GetModelsAsync(CancellationToken cancellationToken = default)
    {
        using var request = CreateRequest(HttpMethod.Get, "v1/models");
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw ErrorJson.Read(bytes, (int)response.StatusCode, "Listing models failed.");
        }

        using var document = JsonDocument.Parse(bytes);
        var ids = new List<string>();
        if (document.RootElement.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array)
        {
            foreach (var model in data.EnumerateArray())
            {
                if (model.TryGetProperty("id", out var id) && id.GetString() is { } value)
                {
                    ids.Add(value);
                }
            }
        }

        return ids;
    }

    /// <summary>
    /// This client as a Microsoft.Extensions.AI <see cref="IChatClient"/>, with streaming, resume and
    /// cancellation; <paramref name="defaultModelId"/> applies when <see cref="ChatOptions.ModelId"/> is unset.
    /// The returned client does not dispose this one.
    /// </summary>
    public IChatClient AsIChatClient(string? defaultModelId = null) => new TokenflowChatClient(this, defaultModelId, ownsClient: false);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    /// <summary>The address of <paramref name="relative"/> (for example <c>v1/models</c>) on the server.</summary>
    internal Uri Resolve(string relative) => new(_root, relative);

    internal static Uri NormalizeRoot(Uri address)
    {
        var text = address.GetLeftPart(UriPartial.Path).TrimEnd('/');
        if (text.EndsWith("/v1", StringComparison.Ordinal))
        {
            text = text[..^3];
        }

        return new Uri(text + "/");
    }

    private HttpRequestMessage CreateRequest(HttpMethod method, string relative)
    {
        var request = new HttpRequestMessage(method, Resolve(relative));
        if (Options.ApiKey is { Length: > 0 } key)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return request;
    }

    private async Task<TokenflowStream> SendForStatusAsync(HttpRequestMessage request, string streamId, CancellationToken cancellationToken)
    {
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw ErrorJson.Read(bytes, (int)response.StatusCode, "The stream request failed.", streamId);
        }

        using var document = JsonDocument.Parse(bytes);
        var root = document.RootElement;
        ChatUsage? usage = null;
        if (root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object)
        {
            usage = new ChatUsage
            {
                PromptTokens = u.TryGetProperty("prompt_tokens", out var p) ? p.GetInt32() : 0,
                CompletionTokens = u.TryGetProperty("completion_tokens", out var c) ? c.GetInt32() : 0,
                TotalTokens = u.TryGetProperty("total_tokens", out var t) ? t.GetInt32() : 0,
            };
        }

        return new TokenflowStream
        {
            Id = root.GetProperty("id").GetString()!,
            Model = root.TryGetProperty("model", out var model) ? model.GetString() : null,
            Status = root.GetProperty("status").GetString()!,
            Created = root.TryGetProperty("created", out var created) && created.TryGetInt64(out var seconds) ? DateTimeOffset.FromUnixTimeSeconds(seconds) : default,
            LastSeq = root.TryGetProperty("last_seq", out var last) ? last.GetInt64() : 0,
            Usage = usage,
        };
    }

    /// <summary>POSTs the request; errors before the stream starts are not retried (a second POST would start a second generation).</summary>
    private async Task<HttpResponseMessage> StartAsync(byte[] body, CancellationToken cancellationToken)
    {
        using var request = CreateRequest(HttpMethod.Post, "v1/chat/completions");
        request.Headers.Accept.Add(EventStream);
        request.Content = new ByteArrayContent(body) { Headers = { ContentType = JsonContentType } };
        var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            using (response)
            {
                var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
                throw ErrorJson.Read(bytes, (int)response.StatusCode, "The chat completion request failed.");
            }
        }

        return response;
    }

    /// <summary>GETs the stream's events after <paramref name="after"/>; null when the attempt failed in a way worth retrying.</summary>
    private async Task<HttpResponseMessage?> TryReconnectAsync(string streamId, long after, CancellationToken cancellationToken)
    {
        using var request = CreateRequest(HttpMethod.Get, $"v1/streams/{Uri.EscapeDataString(streamId)}/events");
        request.Headers.Accept.Add(EventStream);
        request.Headers.TryAddWithoutValidation("Last-Event-ID", after.ToString(CultureInfo.InvariantCulture));
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsConnectionFailure(ex, cancellationToken))
        {
            ClientLog.ReconnectFailed(Options.Logger, streamId, ex.Message);
            return null;
        }

        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            if (status is 429 or >= 500)
            {
                ClientLog.ReconnectFailed(Options.Logger, streamId, $"HTTP {status}");
                return null;
            }

            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            throw ErrorJson.Read(bytes, status, "The stream could not be resumed.", streamId);
        }
    }

    private async IAsyncEnumerable<ChatStreamEvent> ReadStreamAsync(
        Func<CancellationToken, Task<HttpResponseMessage>>? start,
        string? streamId,
        long after,
        bool cancelOnAbandon,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // streamId is the id to resume with: only Tokenflow names it (X-Stream-Id); other OpenAI-compatible
        // servers stream without resume.
        var lastSeq = after;
        var ended = false;
        var failures = 0;
        HttpResponseMessage? response = null;
        try
        {
            if (start is not null)
            {
                response = await start(cancellationToken).ConfigureAwait(false);
                streamId = response.Headers.TryGetValues("X-Stream-Id", out var ids) ? ids.FirstOrDefault() : null;
            }
            else
            {
                response = await TryReconnectAsync(streamId!, lastSeq, cancellationToken).ConfigureAwait(false);
            }

            while (true)
            {
                while (response is null)
                {
                    if (failures++ >= Options.MaxResumeAttempts)
                    {
                        throw new TokenflowException($"The connection to stream '{streamId}' was lost and {Options.MaxResumeAttempts} reconnects in a row failed; events up to {lastSeq} were delivered.") { StreamId = streamId };
                    }

                    await Task.Delay(Backoff(failures), cancellationToken).ConfigureAwait(false);
                    response = await TryReconnectAsync(streamId!, lastSeq, cancellationToken).ConfigureAwait(false);
                    if (response is not null)
                    {
                        ClientLog.Resumed(Options.Logger, streamId!, lastSeq);
                    }
                }

                using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var body = new IdleTimeoutStream(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), idle, Options.IdleTimeout);
                body.Arm();
                var events = System.Net.ServerSentEvents.SseParser.Create(body, ChatChunk.ParseSse).EnumerateAsync(idle.Token).GetAsyncEnumerator(idle.Token);
                try
                {
                    while (true)
                    {
                        System.Net.ServerSentEvents.SseItem<ChatChunk> item;
                        try
                        {
                            if (!await events.MoveNextAsync().ConfigureAwait(false))
                            {
                                break;
                            }

                            item = events.Current;
                        }
                        catch (Exception ex) when (IsConnectionFailure(ex, cancellationToken))
                        {
                            ClientLog.ConnectionLost(Options.Logger, streamId ?? "?", lastSeq, ex.Message);
                            break;
                        }

                        var chunk = item.Data;
                        if (chunk.Kind == ChatChunkKind.Done)
                        {
                            ended = true;
                            yield break;
                        }

                        if (chunk.Kind == ChatChunkKind.Error)
                        {
                            ended = true;
                            var error = chunk.Error!;
                            throw new TokenflowException(error.Message) { ErrorType = error.ErrorType, Code = error.Code, Param = error.Param, StreamId = streamId };
                        }

                        if (chunk.Kind == ChatChunkKind.Malformed)
                        {
                            // A truncated event: resume from the last good one.
                            ClientLog.ConnectionLost(Options.Logger, streamId ?? "?", lastSeq, "malformed event");
                            break;
                        }

                        var seq = long.TryParse(item.EventId, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : lastSeq + 1;
                        if (seq <= lastSeq)
                        {
                            continue;
                        }

                        lastSeq = seq;
                        failures = 0;
                        yield return new ChatStreamEvent
                        {
                            StreamId = streamId ?? chunk.Id,
                            Seq = seq,
                            Text = chunk.Text,
                            FinishReason = chunk.FinishReason,
                            Usage = chunk.Usage,
                            Model = chunk.Model,
                            Created = chunk.Created is { } created ? DateTimeOffset.FromUnixTimeSeconds(created) : null,
                        };
                    }
                }
                finally
                {
                    await events.DisposeAsync().ConfigureAwait(false);
                    response.Dispose();
                    response = null;
                }

                cancellationToken.ThrowIfCancellationRequested();
                if (streamId is null || Options.MaxResumeAttempts == 0)
                {
                    throw new TokenflowException($"The connection closed before the end of the stream{(streamId is null ? " and the server named no stream to resume" : string.Empty)}.") { StreamId = streamId };
                }
            }
        }
        finally
        {
            response?.Dispose();
            if (!ended && cancelOnAbandon && streamId is not null)
            {
                await TryCancelAsync(streamId).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Cancels an abandoned stream on the server; bounded to a few seconds, and never throws (the server's grace period is the fallback).</summary>
    private async Task TryCancelAsync(string streamId)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            using var request = CreateRequest(HttpMethod.Post, $"v1/streams/{Uri.EscapeDataString(streamId)}/cancel");
            using var response = await _http.SendAsync(request, timeout.Token).ConfigureAwait(false);
            ClientLog.Cancelled(Options.Logger, streamId, (int)response.StatusCode);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
        {
            ClientLog.CancelFailed(Options.Logger, streamId, ex.Message);
        }
    }

    private TimeSpan Backoff(int attempt)
    {
        var baseDelay = Options.ResumeBackoff.TotalMilliseconds * Math.Pow(2, Math.Max(0, attempt - 1));
        var capped = Math.Min(baseDelay, Options.MaxResumeBackoff.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * (0.8 + (0.4 * Random.Shared.NextDouble())));
    }

    /// <summary>True for failures of the connection itself (reset, truncated body, idle timeout), not of the caller's token.</summary>
    internal static bool IsConnectionFailure(Exception ex, CancellationToken cancellationToken)
        => !cancellationToken.IsCancellationRequested && ex is IOException or HttpRequestException or OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException;
}
