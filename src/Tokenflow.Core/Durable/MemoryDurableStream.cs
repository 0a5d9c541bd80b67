namespace Tokenflow.Core.Durable;

/// <summary>
/// One in-memory durable stream: its entries (byte chunks, or one JSON message each), cumulative end
/// positions, and writer state. Guarded by its own lock (<see cref="Gate"/>); a fork holds a copy of the
/// inherited entries (arrays are shared, never mutated), so source appends never reach it.
/// </summary>
internal sealed class MemoryDurableStream
{
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public MemoryDurableStream(long key, string path, string? owner, string contentType, bool isJson)
    {
        Key = key;
        Path = path;
        Owner = owner;
        ContentType = contentType;
        IsJson = isJson;
    }

    public Lock Gate { get; } = new();

    public long Key { get; }

    public string Path { get; }

    public string? Owner { get; }

    public string ContentType { get; }

    public bool IsJson { get; }

    public List<ReadOnlyMemory<byte>> Entries { get; } = [];

    public List<long> Ends { get; } = [];

    public long Tail => Ends.Count == 0 ? 0 : Ends[^1];

    public long Bytes { get; set; }

    public bool Closed { get; set; }

    public bool SoftDeleted { get; set; }

    public long? TtlSeconds { get; set; }

    public DateTimeOffset? ExpiresAt { get; set; }

    public DateTimeOffset LastTouched { get; set; }

    public string? ForkedFrom { get; set; }

    public MemoryDurableStream? Source { get; set; }

    public bool Removed { get; set; }

    public long ForkOffset { get; set; }

    public long ForkSubOffset { get; set; }

    public int ForkCount { get; set; }

    public string? LastStreamSeq { get; set; }

    public Dictionary<string, (long Epoch, long Seq)> Producers { get; } = new(StringComparer.Ordinal);

    public (string Id, long Epoch, long Seq)? ClosedBy { get; set; }

    public Task Changed => _changed.Task;

    public bool IsExpired(DateTimeOffset now)
        => (ExpiresAt is { } at && at <= now) || (TtlSeconds is { } ttl && LastTouched + TimeSpan.FromSeconds(ttl) <= now);

    public void Add(ReadOnlyMemory<byte> entry, long advance)
    {
        Entries.Add(entry);
        Ends.Add(Tail + advance);
        Bytes += entry.Length;
    }

    /// <summary>Wakes every waiter (data, closure or deletion). Call under <see cref="Gate"/>.</summary>
    public void Signal()
    {
        var old = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        old.TrySetResult();
    }

    /// <summary>Index of the entry holding <paramref name="position"/> (the first whose end is past it).</summary>
    public int EntryAt(long position)
    {
        var index = Ends.BinarySearch(position);
        return index >= 0 ? index + 1 : ~index;
    }
}
