using System.Threading.RateLimiting;

namespace Tokenflow.Server.Operations;

/// <summary>
/// The ASP.NET Core rate limiting middleware's global limiter: one partition per API key (or client address),
/// counting in <see cref="RateLimits"/> (shared through Redis when the store is Redis, which is why acquiring
/// is asynchronous). A refused lease carries <see cref="MetadataName.RetryAfter"/> and the refusal.
/// </summary>
internal sealed class TokenflowRateLimiter(RateLimits limits) : PartitionedRateLimiter<HttpContext>
{
    private static readonly RateLimitLease Granted = new Lease(null);

    public override RateLimiterStatistics? GetStatistics(HttpContext resource) => null;

    // Counting needs the store: report "not yet" for limited requests, so the middleware asks AcquireAsync.
    protected override RateLimitLease AttemptAcquireCore(HttpContext resource, int permitCount)
        => RateLimits.Applies(resource) ? Lease.Pending : Granted;

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(HttpContext resource, int permitCount, CancellationToken cancellationToken)
    {
        if (!RateLimits.Applies(resource))
        {
            return Granted;
        }

        var refusal = await limits.CheckAsync(RateLimits.PartitionOf(resource), countRequest: true, RateLimits.MayGenerate(resource));
        return refusal is null ? Granted : new Lease(refusal);
    }

    /// <summary>A lease: granted (no refusal), refused (with it), or the pending answer of the synchronous path.</summary>
    internal sealed class Lease(RateLimitRefusal? refusal, bool pending = false) : RateLimitLease
    {
        public static readonly Lease Pending = new(null, pending: true);

        public RateLimitRefusal? Refusal { get; } = refusal;

        public override bool IsAcquired => Refusal is null && !pending;

        public override IEnumerable<string> MetadataNames => Refusal is null ? [] : [MetadataName.RetryAfter.Name, MetadataName.ReasonPhrase.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = Refusal is null ? null
                : metadataName == MetadataName.RetryAfter.Name ? Refusal.RetryAfter
                : metadataName == MetadataName.ReasonPhrase.Name ? Refusal.Message
                : null;
            return metadata is not null;
        }
    }
}
