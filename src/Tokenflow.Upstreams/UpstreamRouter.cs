using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Backends;

namespace Tokenflow.Upstreams;

/// <summary>
/// Routes model ids to the configured upstreams: <c>&lt;name&gt;/&lt;id&gt;</c> always to upstream
/// <c>&lt;name&gt;</c> with <c>&lt;id&gt;</c> sent on; a bare id to every upstream whose <c>Models</c> match
/// it (an exact id, or a prefix ending in <c>*</c>), as a failover list ordered by priority, then
/// configuration order. Lists each upstream's models as <c>&lt;name&gt;/&lt;id&gt;</c>. Thread-safe.
/// </summary>
internal sealed class UpstreamRouter : IModelRouter, IDisposable
{
    private readonly Upstream[] _byPriority;
    private readonly Dictionary<string, Upstream> _byName;
    private readonly ILogger _logger;

    public UpstreamRouter(IOptions<UpstreamsOptions> options, TimeProvider time, ILoggerFactory loggers)
    {
        _logger = loggers.CreateLogger("Tokenflow.Upstreams");
        var order = 0;
        var upstreams = new List<Upstream>();
        foreach (var (name, o) in options.Value.Upstreams)
        {
            upstreams.Add(new Upstream(name, order++, o, time));
        }

        _byName = upstreams.ToDictionary(u => u.Name, StringComparer.Ordinal);
        _byPriority = [.. upstreams.OrderBy(u => u.Options.Priority).ThenBy(u => u.Order)];
    }

    /// <summary>The upstreams by name.</summary>
    public IReadOnlyDictionary<string, Upstream> Upstreams => _byName;

    public ModelEntry? Route(string id)
    {
        var slash = id.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0 && _byName.TryGetValue(id[..slash], out var named) && slash < id.Length - 1)
        {
            return Entry(id, named.Name, [new UpstreamRoute(named, id[(slash + 1)..])]);
        }

        List<UpstreamRoute>? routes = null;
        foreach (var upstream in _byPriority)
        {
            if (Matches(upstream.Options.Models, id))
            {
                (routes ??= []).Add(new UpstreamRoute(upstream, id));
            }
        }

        return routes is null ? null : Entry(id, routes[0].Upstream.Name, routes);
    }

    public async ValueTask<IReadOnlyList<ModelEntry>> ListModelsAsync(CancellationToken cancellationToken)
    {
        var lists = await Task.WhenAll(_byName.Values.OrderBy(u => u.Order).Select(u => u.ListModelsAsync(cancellationToken).AsTask())).ConfigureAwait(false);
        var entries = new List<ModelEntry>();
        var i = 0;
        foreach (var upstream in _byName.Values.OrderBy(u => u.Order))
        {
            foreach (var id in lists[i++])
            {
                entries.Add(Entry($"{upstream.Name}/{id}", upstream.Name, [new UpstreamRoute(upstream, id)]));
            }

            // Ids served under their own name are models too, even when the upstream's list is unavailable.
            foreach (var model in upstream.Options.Models)
            {
                if (!model.EndsWith('*'))
                {
                    entries.Add(Route(model)!);
                }
            }
        }

        return entries;
    }

    private static bool Matches(List<string> patterns, string id)
    {
        foreach (var pattern in patterns)
        {
            if (pattern.EndsWith('*') ? id.StartsWith(pattern.AsSpan(0, pattern.Length - 1), StringComparison.Ordinal) : pattern == id)
            {
                return true;
            }
        }

        return false;
    }

    private ModelEntry Entry(string id, string ownedBy, List<UpstreamRoute> routes)
        => new(id, ownedBy, new UpstreamBackend(routes, _logger)) { BackendLimitsTokens = true };

    public void Dispose()
    {
        foreach (var upstream in _byName.Values)
        {
            upstream.Dispose();
        }
    }
}
