using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Streams;

namespace Tokenflow.Upstreams;

/// <summary>
/// The backend of a routed model id: tries its upstreams in failover order until one produces a first
/// token. Before the first token a connect error, a 5xx or 429 answer (or in-stream error), or no token
/// within the upstream's <see cref="UpstreamOptions.TtftTimeout"/> moves on to the next upstream; after
/// it, any failure ends the stream with an error (never a truncated stream that looks complete).
/// </summary>
internal sealed partial class UpstreamBackend : IModelBackend
{
    private readonly UpstreamRoute[] _routes;
    private readonly ILogger _logger;

    public UpstreamBackend(IReadOnlyList<UpstreamRoute> routes, ILogger logger)
    {
        _routes = [.. routes];
        _logger = logger;
    }

    /// <summary>The upstreams in the order they are tried.</summary>
    public IReadOnlyList<UpstreamRoute> Routes => _routes;

    public async IAsyncEnumerable<TokenPiece> GenerateAsync(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        StreamError? last = null;
        foreach (var route in _routes)
        {
            var attempt = await StartAsync(route, request, cancellationToken).ConfigureAwait(false);
            if (attempt.Pieces is not { } pieces)
            {
                last = attempt.Error!;
                if (!UpstreamErrors.IsRetryable(last))
                {
                    throw new ModelBackendException(last);
                }

                LogFailover(_logger, route.Upstream.Name, last.Code, last.Message);
                continue;
            }

            await using (pieces.ConfigureAwait(false))
            using (attempt.Timeout)
            {
                if (attempt.Empty)
                {
                    yield break;
                }

                yield return pieces.Current;
                while (await NextAsync(route, pieces, cancellationToken).ConfigureAwait(false))
                {
                    yield return pieces.Current;
                }
            }

            yield break;
        }

        throw new ModelBackendException(last ?? new StreamError("No upstream serves this model.", "invalid_request_error", "model_not_found") { Status = 404 });
    }

    /// <summary>Sends the request and waits for the first piece (bounded by the TTFT timeout); an error instead when the attempt failed.</summary>
    private static async ValueTask<Attempt> StartAsync(UpstreamRoute route, BackendRequest request, CancellationToken cancellationToken)
    {
        var upstream = route.Upstream;
        var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(upstream.Options.TtftTimeout);
        var pieces = upstream.StreamAsync(request, route.ModelId, timeout.Token).GetAsyncEnumerator(timeout.Token);
        StreamError? error;
        try
        {
            if (await pieces.MoveNextAsync().ConfigureAwait(false))
            {
                // Disarm the TTFT timer; from here the caller's token alone cancels the upstream request.
                timeout.CancelAfter(Timeout.InfiniteTimeSpan);
                if (!timeout.IsCancellationRequested)
                {
                    return new Attempt(pieces, timeout, null);
                }
            }
            else
            {
                // A whole, empty answer: nothing to fail over from.
                return new Attempt(pieces, timeout, null) { Empty = true };
            }

            error = UpstreamErrors.Timeout(upstream.Name, upstream.Options.TtftTimeout).Error;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            error = (timeout.IsCancellationRequested ? UpstreamErrors.Timeout(upstream.Name, upstream.Options.TtftTimeout)
                : UpstreamErrors.FromException(upstream.Name, ex, afterFirstToken: false))!.Error;
        }
        catch
        {
            await pieces.DisposeAsync().ConfigureAwait(false);
            timeout.Dispose();
            throw;
        }

        await pieces.DisposeAsync().ConfigureAwait(false);
        timeout.Dispose();
        return new Attempt(null, null, error);
    }

    /// <summary>The next piece after the first; failures become terminal, client-facing errors.</summary>
    private static async ValueTask<bool> NextAsync(UpstreamRoute route, IAsyncEnumerator<TokenPiece> pieces, CancellationToken cancellationToken)
    {
        try
        {
            return await pieces.MoveNextAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            // A cancel that surfaced as a broken connection is still a cancel.
            throw new OperationCanceledException(ex.Message, ex, cancellationToken);
        }
        catch (Exception ex) when (ex is not ModelBackendException && !cancellationToken.IsCancellationRequested
            && UpstreamErrors.FromException(route.Upstream.Name, ex, afterFirstToken: true) is { } mapped)
        {
            throw mapped;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream {Upstream} failed before the first token ({Code}: {Message}); trying the next one")]
    private static partial void LogFailover(ILogger logger, string upstream, string? code, string message);

    private sealed record Attempt(IAsyncEnumerator<TokenPiece>? Pieces, CancellationTokenSource? Timeout, StreamError? Error)
    {
        public bool Empty { get; init; }
    }
}
