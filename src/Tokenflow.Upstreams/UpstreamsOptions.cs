namespace Tokenflow.Upstreams;

/// <summary>
/// Every configured upstream by name, bound from <see cref="Section"/>:<c>Upstreams</c> and validated at
/// start-up: a bad <c>Kind</c> or <c>Url</c> stops the host with a message naming the setting.
/// </summary>
public sealed class UpstreamsOptions
{
    /// <summary>The configuration section this class binds from (its <see cref="Upstreams"/> is <c>Tokenflow:Upstreams</c>).</summary>
    public const string Section = "Tokenflow";

    /// <summary>The upstreams, by name (the <c>&lt;name&gt;</c> of <c>&lt;name&gt;/&lt;id&gt;</c>); configuration order is failover order at equal priority.</summary>
    public Dictionary<string, UpstreamOptions> Upstreams { get; set; } = new(StringComparer.Ordinal);
}
