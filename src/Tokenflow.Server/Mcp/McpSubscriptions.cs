using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Tokenflow.Core.Streams;

namespace Tokenflow.Server.Mcp;

/// <summary>
/// <c>resources/subscribe</c> on <c>tokenflow://streams/{id}</c>: while the stream grows, the session
/// gets <c>notifications/resources/updated</c> — coalesced, at most one per
/// <see cref="TokenflowMcpOptions.ResourceUpdateInterval"/>, and a last one when the stream ends.
/// <c>resources/unsubscribe</c> stops them before it answers, so none arrives after its result. Each
/// subscription is one reader on the stream (no buffering of its own); a session holds at most
/// <see cref="MaxPerSession"/>. Needs a session: in stateless mode nothing can reach the client
/// outside a call's response, so subscribing is refused with a clear error.
/// </summary>
internal sealed partial class McpSubscriptions
{
    /// <summary>Most subscriptions one session may hold at once.</summary>
    public const int MaxPerSession = 64;

    // Keyed by session id: each request sees its own McpServer wrapper of the session. Over stdio (one session per process) the id is null.
    private readonly ConcurrentDictionary<(string Session, string Uri), Subscription> _subscriptions = new();
    private readonly StreamAccess _streams;
    private readonly TimeProvider _time;
    private readonly IOptions<TokenflowMcpOptions> _options;
    private readonly ILogger<McpSubscriptions> _logger;

    public McpSubscriptions(StreamAccess streams, TimeProvider time, IOptions<TokenflowMcpOptions> options, ILogger<McpSubscriptions> logger)
    {
        _streams = streams;
        _time = time;
        _options = options;
        _logger = logger;
    }

    /// <summary>Handles <c>resources/subscribe</c>.</summary>
    public async ValueTask<EmptyResult> SubscribeAsync(RequestContext<SubscribeRequestParams> request, CancellationToken cancellationToken)
    {
        var uri = request.Params?.Uri ?? throw new McpProtocolException("resources/subscribe needs a 'uri'.", McpErrorCode.InvalidParams);
        var id = StreamIdOf(uri);
        if (request.Server.SessionId is null && _streams.OverHttp)
        {
            throw new McpProtocolException(
                "Subscriptions need a session: this server runs /mcp statelessly (Tokenflow:Mcp:SessionMode). Poll read_stream or the resource instead.",
                McpErrorCode.InvalidRequest);
        }

        var status = await _streams.Streams.GetStatusAsync(id, _streams.Owner, cancellationToken);
        if (status is null)
        {
            throw new McpProtocolException(StreamAccess.NotFound(id), McpErrorCode.ResourceNotFound);
        }

        var key = (request.Server.SessionId ?? string.Empty, uri);
        if (_subscriptions.ContainsKey(key))
        {
            return new EmptyResult();
        }

        if (_subscriptions.Keys.Count(k => k.Session == key.Item1) >= MaxPerSession)
        {
            throw new McpProtocolException($"A session may hold at most {MaxPerSession} subscriptions; unsubscribe from one first.", McpErrorCode.InvalidRequest);
        }

        var (_, reader) = await _streams.Store.OpenReaderAsync(id, status.LastSeq, cancellationToken);
        if (reader is null)
        {
            throw new McpProtocolException(StreamAccess.NotFound(id), McpErrorCode.ResourceNotFound);
        }

        var subscription = new Subscription();
        if (!_subscriptions.TryAdd(key, subscription))
        {
            await reader.DisposeAsync();
            return new EmptyResult();
        }

        subscription.Run = FollowAsync(request.Server, key, reader, subscription);
        return new EmptyResult();
    }

    /// <summary>Handles <c>resources/unsubscribe</c>: returns once no further update can be sent.</summary>
    public async ValueTask<EmptyResult> UnsubscribeAsync(RequestContext<UnsubscribeRequestParams> request, CancellationToken cancellationToken)
    {
        var uri = request.Params?.Uri ?? throw new McpProtocolException("resources/unsubscribe needs a 'uri'.", McpErrorCode.InvalidParams);
        if (_subscriptions.TryRemove((request.Server.SessionId ?? string.Empty, uri), out var subscription))
        {
            await subscription.Stop.CancelAsync();
            if (subscription.Run is { } run)
            {
                await run.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }

        return new EmptyResult();
    }

    private static string StreamIdOf(string uri)
    {
        const string Prefix = "tokenflow://streams/";
        if (!uri.StartsWith(Prefix, StringComparison.Ordinal) || uri.Length == Prefix.Length)
        {
            throw new McpProtocolException($"Only stream resources ({StreamResource.UriTemplate}) can be subscribed to; got '{uri}'.", McpErrorCode.InvalidParams);
        }

        return Uri.UnescapeDataString(uri[Prefix.Length..]);
    }

    private async Task FollowAsync(McpServer session, (string Session, string Uri) key, IStreamReader reader, Subscription subscription)
    {
        var uri = key.Uri;
        // Off the subscribe call's own context: the subscription outlives it.
        await Task.Yield();
        var stop = subscription.Stop.Token;
        var interval = _options.Value.ResourceUpdateInterval;
        var update = new ResourceUpdatedNotificationParams { Uri = uri };
        try
        {
            await using (reader)
            {
                var ended = false;
                while (!ended && await reader.WaitToReadAsync(stop))
                {
                    var grew = false;
                    while (reader.TryRead(out var e))
                    {
                        grew = true;
                        ended |= e.IsTerminal;
                    }

                    if (!grew)
                    {
                        continue;
                    }

                    await session.SendNotificationAsync(NotificationMethods.ResourceUpdatedNotification, update, McpJsonUtilities.DefaultOptions, stop);
                    if (!ended && interval > TimeSpan.Zero)
                    {
                        // Coalesce: whatever arrives meanwhile is covered by the next single update.
                        await Task.Delay(interval, _time, stop);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // The session went away (or its transport failed): nothing left to notify.
            LogEnded(uri, ex.Message);
        }
        finally
        {
            _subscriptions.TryRemove(new KeyValuePair<(string, string), Subscription>(key, subscription));
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Subscription to {Uri} ended: {Reason}")]
    private partial void LogEnded(string uri, string reason);

    private sealed class Subscription
    {
        public CancellationTokenSource Stop { get; } = new();

        public Task? Run { get; set; }
    }
}
