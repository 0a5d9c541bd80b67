namespace Tokenflow.Core.Backends;

/// <summary>
/// Resolves model ids this process does not serve itself: upstream providers addressed as
/// <c>&lt;name&gt;/&lt;id&gt;</c> or matched by pattern. Registered in the service collection; the
/// <see cref="ModelCatalog"/> asks every router, in registration order, after its local models.
/// </summary>
public interface IModelRouter
{
    /// <summary>
    /// The model entry for <paramref name="id"/>, whose backend knows which upstream(s) and which
    /// upstream id to call; null when this router does not serve the id. Cheap and thread-safe.
    /// </summary>
    ModelEntry? Route(string id);

    /// <summary>The models to list beside the local ones (e.g. each upstream's model list, cached).</summary>
    ValueTask<IReadOnlyList<ModelEntry>> ListModelsAsync(CancellationToken cancellationToken);
}
