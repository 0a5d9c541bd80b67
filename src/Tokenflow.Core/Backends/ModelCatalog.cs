using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;

namespace Tokenflow.Core.Backends;

/// <summary>
/// The models this process serves, by id: local models first (exact id), then what the registered
/// <see cref="IModelRouter"/>s resolve (upstreams by <c>&lt;name&gt;/&lt;id&gt;</c> or pattern).
/// Built once; thread-safe to read.
/// </summary>
public sealed class ModelCatalog
{
    private readonly FrozenDictionary<string, ModelEntry> _byId;
    private readonly IModelRouter[] _routers;

    /// <summary>Creates the catalog; later entries with a duplicate id are ignored.</summary>
    public ModelCatalog(IEnumerable<ModelEntry> entries)
        : this(entries, [])
    {
    }

    /// <summary>Creates the catalog over local <paramref name="entries"/> and <paramref name="routers"/> for everything else.</summary>
    public ModelCatalog(IEnumerable<ModelEntry> entries, IEnumerable<IModelRouter> routers)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(routers);
        var map = new Dictionary<string, ModelEntry>(StringComparer.Ordinal);
        var ordered = new List<ModelEntry>();
        foreach (var entry in entries)
        {
            if (map.TryAdd(entry.Id, entry))
            {
                ordered.Add(entry);
            }
        }

        _byId = map.ToFrozenDictionary(StringComparer.Ordinal);
        _routers = [.. routers];
        Models = ordered;
    }

    /// <summary>The local models in registration order (routed models are not in this list; see <see cref="ListAsync"/>).</summary>
    public IReadOnlyList<ModelEntry> Models { get; }

    /// <summary>
    /// Finds a model: a local id exactly, else the first router that serves <paramref name="id"/>
    /// (an upstream's <c>&lt;name&gt;/&lt;id&gt;</c>, or a bare id matched by upstream patterns).
    /// </summary>
    public bool TryGet(string id, [NotNullWhen(true)] out ModelEntry? entry)
    {
        if (_byId.TryGetValue(id, out entry))
        {
            return true;
        }

        foreach (var router in _routers)
        {
            entry = router.Route(id);
            if (entry is not null)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Every model to list: the local ones, then each router's (ids already listed are skipped).</summary>
    public async ValueTask<IReadOnlyList<ModelEntry>> ListAsync(CancellationToken cancellationToken)
    {
        if (_routers.Length == 0)
        {
            return Models;
        }

        var seen = new HashSet<string>(_byId.Keys, StringComparer.Ordinal);
        var all = new List<ModelEntry>(Models);
        foreach (var router in _routers)
        {
            foreach (var entry in await router.ListModelsAsync(cancellationToken).ConfigureAwait(false))
            {
                if (seen.Add(entry.Id))
                {
                    all.Add(entry);
                }
            }
        }

        return all;
    }
}
