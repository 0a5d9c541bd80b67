using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Streams;
using Tokenflow.Upstreams.Protocols;

namespace Tokenflow.Upstreams;

/// <summary>
/// One configured upstream: its own connection pool (<see cref="SocketsHttpHandler"/>, HTTP/2 where the
/// upstream offers it over TLS), its wire protocol, and its cached model list. Thread-safe.
/// </summary>
internal sealed class Upstream : IDisposable
{
    /// <summary>Most bytes of an error body read to build the client-facing error.</summary>
    private const int MaxErrorBody = 64 * 1024;

    private readonly HttpClient _client;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _listGate = new(1, 1);
    private (IReadOnlyList<string> Ids, DateTimeOffset Until)? _models;

    public Upstream(string name, int order, UpstreamOptions options, TimeProvider time, HttpMessageHandler? handler = null)
    {
        Name = name;
        Order = order;
        Options = options;
        _time = time;
        Kind = UpstreamsOptionsValidation.ParseKind(options.Kind) ?? throw new ArgumentException($"Unknown upstream kind '{options.Kind}'.", nameof(options));
        var url = options.Url!;
        BaseUri = new Uri(url.EndsWith('/') ? url : url + "/", UriKind.Absolute);
        ApiKey = ResolveKey(options.ApiKey);
        Protocol = Kind switch
        {
            UpstreamKind.Anthropic => new AnthropicProtocol(),
            UpstreamKind.Ollama => new OllamaProtocol(),
            _ => new OpenAiProtocol(BaseUri),
        };
        Protocol.UpstreamName = name;

        handler ??= new SocketsHttpHandler
        {
            // Nagle is already off: SocketsHttpHandler's default connect creates its sockets with NoDelay.
            ConnectTimeout = options.ConnectTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            // Disposing an unfinished response closes its connection at once instead of draining the rest of
            // the stream: that is what makes a cancelled generation abort the upstream request immediately.
            MaxResponseDrainSize = 0,
            EnableMultipleHttp2Connections = true,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            UseProxy = false,
        };
        _client = new HttpClient(handler, disposeHandler: true)
        {
            Timeout = Timeout.InfiniteTimeSpan,
            // HTTP/2 when TLS negotiates it (ALPN); plain http:// stays on HTTP/1.1.
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
    }

    /// <summary>The upstream's name (the prefix of <c>&lt;name&gt;/&lt;id&gt;</c>).</summary>
    public string Name { get; }

    /// <summary>Its position in configuration (failover order at equal priority).</summary>
    public int Order { get; }

    public UpstreamOptions Options { get; }

    public UpstreamKind Kind { get; }

    public Uri BaseUri { get; }

    /// <summary>The resolved API key (literal or from <c>env:VAR</c>); never logged.</summary>
    internal string? ApiKey { get; }

    internal UpstreamProtocol Protocol { get; }

    /// <summary>
    /// Sends the generation request for <paramref name="modelId"/> and yields the upstream's pieces as
    /// they arrive. Throws <see cref="ModelBackendException"/> for an error status, connection failure or an
    /// in-stream error; cancelling <paramref name="cancellationToken"/> (or disposing the enumerator)
    /// closes the upstream connection at once.
    /// </summary>
    public async IAsyncEnumerable<TokenPiece> StreamAsync(BackendRequest request, string modelId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var message = Protocol.CreateGenerateRequest(BaseUri, request, modelId);
        Authorize(message);
        HttpResponseMessage response;
        try
        {
            response = await _client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw UpstreamErrors.Unavailable(Name, ex);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // SocketsHttpHandler.ConnectTimeout surfaces as a cancellation the caller did not ask for.
            throw UpstreamErrors.Unavailable(Name, ex);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw await ReadErrorAsync(response, cancellationToken).ConfigureAwait(false);
            }

            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                await foreach (var piece in Protocol.ReadAsync(body, request, cancellationToken).ConfigureAwait(false))
                {
                    yield return piece;
                }
            }
        }
    }

    /// <summary>The upstream's model ids, fetched from its model list and cached for <see cref="UpstreamOptions.ModelListCacheTime"/>; empty when it cannot be fetched.</summary>
    public async ValueTask<IReadOnlyList<string>> ListModelsAsync(CancellationToken cancellationToken)
    {
        if (_models is { } cached && _time.GetUtcNow() < cached.Until)
        {
            return cached.Ids;
        }

        await _listGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_models is { } again && _time.GetUtcNow() < again.Until)
            {
                return again.Ids;
            }

            IReadOnlyList<string> ids;
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(Options.ConnectTimeout + TimeSpan.FromSeconds(5));
                using var message = Protocol.CreateModelListRequest(BaseUri);
                Authorize(message);
                using var response = await _client.SendAsync(message, timeout.Token).ConfigureAwait(false);
                ids = response.IsSuccessStatusCode
                    ? Protocol.ParseModelList(await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false))
                    : [];
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or System.Text.Json.JsonException && !cancellationToken.IsCancellationRequested)
            {
                ids = [];
            }

            // A failed fetch is cached too (briefly), so a dead upstream does not slow every /v1/models.
            _models = (ids, _time.GetUtcNow() + (ids.Count > 0 ? Options.ModelListCacheTime : TimeSpan.FromSeconds(10)));
            return ids;
        }
        finally
        {
            _listGate.Release();
        }
    }

    private void Authorize(HttpRequestMessage message)
    {
        if (ApiKey is { Length: > 0 } key)
        {
            if (Kind == UpstreamKind.Anthropic)
            {
                message.Headers.TryAddWithoutValidation("x-api-key", key);
            }
            else
            {
                message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            }
        }

        if (Kind == UpstreamKind.Anthropic && !Options.Headers.ContainsKey("anthropic-version"))
        {
            message.Headers.TryAddWithoutValidation("anthropic-version", "2023-06-01");
        }

        foreach (var (name, value) in Options.Headers)
        {
            message.Headers.Remove(name);
            message.Headers.TryAddWithoutValidation(name, value);
        }
    }

    private async Task<ModelBackendException> ReadErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        TimeSpan? retryAfter = response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - _time.GetUtcNow() is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
            _ => null,
        };

        byte[] body;
        try
        {
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                var buffer = new byte[MaxErrorBody];
                var read = 0;
                int n;
                while (read < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false)) > 0)
                {
                    read += n;
                }

                body = buffer[..read];
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            body = [];
        }

        return new ModelBackendException(UpstreamErrors.FromResponse(Protocol, Name, status, body, retryAfter));
    }

    private static string? ResolveKey(string? key)
        => key is not null && key.StartsWith("env:", StringComparison.Ordinal) ? Environment.GetEnvironmentVariable(key[4..]) : key;

    public override string ToString() => $"{Name} ({Options.Kind} {BaseUri})";

    public void Dispose()
    {
        _client.Dispose();
        _listGate.Dispose();
    }
}
