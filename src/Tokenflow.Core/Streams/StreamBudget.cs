namespace Tokenflow.Core.Streams;

/// <summary>
/// A byte budget shared by the logs of one store: appends charge it, eviction and retention
/// refund it. Thread-safe and lock-free.
/// </summary>
public sealed class StreamBudget
{
    private long _bytes;

    /// <summary>Creates a budget of <paramref name="maxBytes"/>.</summary>
    public StreamBudget(long maxBytes) => MaxBytes = maxBytes;

    /// <summary>The limit, in bytes.</summary>
    public long MaxBytes { get; }

    /// <summary>Bytes charged now.</summary>
    public long BytesInUse => Interlocked.Read(ref _bytes);

    /// <summary>Charges <paramref name="bytes"/> if the total stays within <see cref="MaxBytes"/>; false (and nothing charged) otherwise.</summary>
    public bool TryCharge(long bytes)
    {
        var total = Interlocked.Add(ref _bytes, bytes);
        if (total <= MaxBytes)
        {
            return true;
        }

        Interlocked.Add(ref _bytes, -bytes);
        return false;
    }

    /// <summary>Charges <paramref name="bytes"/> even past the limit (terminal events must always fit).</summary>
    public void ForceCharge(long bytes) => Interlocked.Add(ref _bytes, bytes);

    /// <summary>Returns <paramref name="bytes"/> charged earlier.</summary>
    public void Refund(long bytes) => Interlocked.Add(ref _bytes, -bytes);
}
