namespace Tokenflow.Core.Sim;

/// <summary>
/// A small deterministic generator (SplitMix64), stable across .NET versions unlike
/// <see cref="Random"/>: the simulator's output for a seed never changes under it.
/// </summary>
internal struct SplitMix64(long seed)
{
    private ulong _state = unchecked((ulong)seed);

    /// <summary>A generator for one purpose of one seed (text, call k's arguments, fragment sizes), independent of the others.</summary>
    public static SplitMix64 For(long seed, long stream)
    {
        var mixer = new SplitMix64(seed ^ unchecked(stream * (long)0xD1B54A32D192ED03UL));
        return new SplitMix64(unchecked((long)mixer.NextUInt64()));
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A number in [0, <paramref name="maxExclusive"/>).</summary>
    public int Next(int maxExclusive) => (int)(NextUInt64() % (ulong)maxExclusive);

    /// <summary>A number in [<paramref name="min"/>, <paramref name="max"/>] (inclusive).</summary>
    public long NextInclusive(long min, long max)
        => max <= min ? min : min + (long)(NextUInt64() % ((ulong)(max - min) + 1));

    /// <summary>A number in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>True or false, evenly.</summary>
    public bool NextBool() => (NextUInt64() & 1) == 1;
}
