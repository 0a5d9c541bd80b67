using System.Collections.Frozen;

namespace Tokenflow.Core.Backends;

/// <summary>
/// The models this process serves, by id. Built once from every registered <see cref="ModelEntry"/>;
/// thread-safe to read.
/// </summary>
public sealed class ModelCatalog
{
    private readonly FrozenDictionary<string, ModelEntry> _byId;

    /// <summary>Creates the catalog; later entries with a duplicate id are ignored.</summary>
    public ModelCatalog(IEnumerable<ModelEntry> entries)
    {
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
        Models = ordered;
    }

    /// <summary>All models in registration order.</summary>
    public IReadOnlyList<ModelEntry> Models { get; }

    /// <summary>Finds a model by its exact id.</summary>
    public bool TryGet(string id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ModelEntry? entry)
        => _byId.TryGetValue(id, out entry);
}
