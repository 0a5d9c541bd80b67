using Microsoft.Extensions.Options;

namespace Tokenflow.Core.Durable;

/// <summary>
/// The in-memory <see cref="IDurableStreamStore"/>. Bounded by <see cref="DurableStreamOptions"/>: past
/// <see cref="DurableStreamOptions.MaxBytes"/> or <see cref="DurableStreamOptions.MaxStreams"/> writes fail with
/// <see cref="DurableOutcome.Full"/> (expired streams are swept first). Expiry is checked on access.
/// Thread-safe: one lock for the path table and fork graph, one per stream for its log; validation and append
/// of idempotent producers happen under the stream's lock, so they are serialized per (stream, producer).
/// </summary>
public sealed class MemoryDurableStreamStore : IDurableStreamStore
{
    private readonly Dictionary<string, MemoryDurableStream> _streams = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly DurableStreamOptions _options;
    private readonly TimeProvider _time;
    private long _bytes;
    private long _nextKey;

    /// <summary>Creates the store.</summary>
    public MemoryDurableStreamStore(IOptions<DurableStreamOptions> options, TimeProvider time)
    {
        _options = options.Value;
        _time = time;
    }

    /// <inheritdoc />
    public ValueTask<DurableStreamResult> CreateAsync(DurableCreateRequest request, CancellationToken cancellationToken)
        => ValueTask.FromResult(Create(request));

    /// <inheritdoc />
    public ValueTask<DurableStreamResult> AppendAsync(DurableAppendRequest request, CancellationToken cancellationToken)
        => ValueTask.FromResult(Append(request));

    /// <inheritdoc />
    public ValueTask<DurableStreamResult> GetInfoAsync(string path, string? owner, CancellationToken cancellationToken)
    {
        var (stream, failure) = Find(path, owner);
        if (stream is null)
        {
            return ValueTask.FromResult(failure!);
        }

        lock (stream.Gate)
        {
            return ValueTask.FromResult(Describe(stream, DurableOutcome.Ok));
        }
    }

    /// <inheritdoc />
    public ValueTask<DurableReadResult> ReadAsync(string path, string? owner, long? position, CancellationToken cancellationToken)
    {
        var (stream, failure) = Find(path, owner);
        if (stream is null)
        {
            return ValueTask.FromResult(new DurableReadResult(failure!.Outcome));
        }

        lock (stream.Gate)
        {
            stream.LastTouched = _time.GetUtcNow();
            var tail = stream.Tail;
            var start = position ?? tail;
            if (start < 0 || start > tail)
            {
                return ValueTask.FromResult(new DurableReadResult(DurableOutcome.Invalid) { Message = "The offset is past the end of the stream." });
            }

            var chunks = new List<ReadOnlyMemory<byte>>();
            var next = start;
            var budget = (long)_options.MaxReadBytes;
            for (var i = stream.EntryAt(start); i < stream.Entries.Count && (chunks.Count == 0 || budget > 0); i++)
            {
                var entry = stream.Entries[i];
                var entryStart = stream.Ends[i] - (stream.IsJson ? 1 : entry.Length);
                if (!stream.IsJson)
                {
                    entry = entry[(int)(next - entryStart)..];
                    if (entry.Length > budget)
                    {
                        entry = entry[..(int)Math.Max(budget, 1)];
                    }

                    next += entry.Length;
                }
                else
                {
                    next = stream.Ends[i];
                }

                chunks.Add(entry);
                budget -= entry.Length;
            }

            return ValueTask.FromResult(new DurableReadResult(DurableOutcome.Ok)
            {
                StreamKey = stream.Key,
                ContentType = stream.ContentType,
                IsJson = stream.IsJson,
                Chunks = chunks,
                Start = start,
                Next = next,
                UpToDate = next == tail,
                Closed = stream.Closed && next == tail,
                TtlSeconds = stream.TtlSeconds,
                ExpiresAt = stream.ExpiresAt,
            });
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> WaitAsync(string path, long position, CancellationToken cancellationToken)
    {
        MemoryDurableStream? stream;
        lock (_gate)
        {
            stream = _streams.GetValueOrDefault(path);
        }

        while (stream is not null)
        {
            Task changed;
            lock (stream.Gate)
            {
                if (stream.Removed || stream.SoftDeleted || stream.Closed || stream.Tail > position)
                {
                    return true;
                }

                changed = stream.Changed;
            }

            try
            {
                await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc />
    public ValueTask<DurableStreamResult> DeleteAsync(string path, string? owner, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var stream = Lookup(path);
            if (stream is null || stream.Owner != owner)
            {
                return ValueTask.FromResult(new DurableStreamResult(DurableOutcome.NotFound));
            }

            if (stream.SoftDeleted)
            {
                return ValueTask.FromResult(new DurableStreamResult(DurableOutcome.Gone));
            }

            Retire(stream);
            return ValueTask.FromResult(new DurableStreamResult(DurableOutcome.Ok));
        }
    }

    private DurableStreamResult Create(DurableCreateRequest request)
    {
        var contentType = request.ContentType;
        lock (_gate)
        {
            var existing = Lookup(request.Path);
            if (existing is not null)
            {
                return Reconfirm(existing, request);
            }

            if (_streams.Count >= _options.MaxStreams)
            {
                Sweep();
                if (_streams.Count >= _options.MaxStreams)
                {
                    return DurableStreamResult.Fail(DurableOutcome.Full, "The stream store holds its maximum number of streams.");
                }
            }

            MemoryDurableStream? source = null;
            var ttl = request.TtlSeconds;
            var expiresAt = request.ExpiresAt;
            if (request.ForkedFrom is not null)
            {
                source = Lookup(request.ForkedFrom);
                if (source is null || source.Owner != request.Owner)
                {
                    return DurableStreamResult.Fail(DurableOutcome.NotFound, "The source stream does not exist.");
                }

                if (source.SoftDeleted)
                {
                    return DurableStreamResult.Fail(DurableOutcome.Conflict, "The source stream was deleted.");
                }

                contentType ??= source.ContentType;
                if (DurableMessages.MediaType(contentType) != DurableMessages.MediaType(source.ContentType))
                {
                    return DurableStreamResult.Fail(DurableOutcome.Conflict, "A fork's content type must match its source's.");
                }

                if (ttl is null && expiresAt is null)
                {
                    ttl = source.TtlSeconds;
                    expiresAt = source.ExpiresAt;
                }
            }

            contentType ??= "application/octet-stream";
            var isJson = DurableMessages.IsJsonType(contentType);
            var messages = new List<ReadOnlyMemory<byte>>();
            if (!DurableMessages.Split(request.Body, isJson, allowEmptyArray: true, messages, out var error))
            {
                return DurableStreamResult.Fail(DurableOutcome.Invalid, error!);
            }

            var stream = new MemoryDurableStream(++_nextKey, request.Path, request.Owner, contentType, isJson)
            {
                TtlSeconds = ttl,
                ExpiresAt = expiresAt,
                LastTouched = _time.GetUtcNow(),
            };
            if (source is not null && Inherit(stream, source, request, out error) is var inherited && inherited != DurableOutcome.Ok)
            {
                return DurableStreamResult.Fail(inherited, error!);
            }

            if (!Reserve(Size(messages)))
            {
                Sweep();
                if (!Reserve(Size(messages)))
                {
                    Interlocked.Add(ref _bytes, -stream.Bytes);
                    return DurableStreamResult.Fail(DurableOutcome.Full, "The stream store is full.");
                }
            }

            foreach (var message in messages)
            {
                stream.Add(message, isJson ? 1 : message.Length);
            }

            stream.Closed = request.Close;
            if (source is not null)
            {
                source.ForkCount++;
                stream.Source = source;
                stream.ForkedFrom = request.ForkedFrom;
            }

            _streams[request.Path] = stream;
            return Describe(stream, DurableOutcome.Created);
        }
    }

    private DurableStreamResult Reconfirm(MemoryDurableStream existing, DurableCreateRequest request)
    {
        if (existing.SoftDeleted || existing.Owner != request.Owner)
        {
            return DurableStreamResult.Fail(DurableOutcome.Conflict, "A stream exists at this path.");
        }

        lock (existing.Gate)
        {
            var sameType = request.ContentType is null
                ? request.ForkedFrom is not null || DurableMessages.MediaType(existing.ContentType) == "application/octet-stream"
                : DurableMessages.MediaType(request.ContentType) == DurableMessages.MediaType(existing.ContentType);
            var sameFork = request.ForkedFrom == existing.ForkedFrom && (request.ForkOffset is null || request.ForkOffset == existing.ForkOffset) && request.ForkSubOffset == existing.ForkSubOffset;
            var same = sameType && sameFork && request.TtlSeconds == existing.TtlSeconds && request.ExpiresAt == existing.ExpiresAt && request.Close == existing.Closed;
            return same ? Describe(existing, DurableOutcome.Exists) : DurableStreamResult.Fail(DurableOutcome.Conflict, "A stream exists at this path with a different configuration.");
        }
    }

    private DurableOutcome Inherit(MemoryDurableStream fork, MemoryDurableStream source, DurableCreateRequest request, out string? error)
    {
        lock (source.Gate)
        {
            var offset = request.ForkOffset ?? source.Tail;
            var target = offset + request.ForkSubOffset;
            if (offset > source.Tail || target > source.Tail)
            {
                error = "The fork offset is past the end of the source stream.";
                return DurableOutcome.Invalid;
            }

            long bytes = 0;
            for (var i = 0; i < source.Entries.Count; i++)
            {
                var entry = source.Entries[i];
                var advance = source.IsJson ? 1 : entry.Length;
                var start = source.Ends[i] - advance;
                if (start >= target)
                {
                    break;
                }

                if (source.Ends[i] > target)
                {
                    entry = entry[..(int)(target - start)];
                    advance = entry.Length;
                }

                fork.Add(entry, advance);
                bytes += entry.Length;
            }

            if (!Reserve(bytes))
            {
                error = "The stream store is full.";
                return DurableOutcome.Full;
            }

            fork.ForkOffset = offset;
            fork.ForkSubOffset = request.ForkSubOffset;
            error = null;
            return DurableOutcome.Ok;
        }
    }

    private DurableStreamResult Append(DurableAppendRequest request)
    {
        var (stream, failure) = Find(request.Path, request.Owner);
        if (stream is null)
        {
            return failure!;
        }

        if (request.Body.IsEmpty && !request.Close)
        {
            return DurableStreamResult.Fail(DurableOutcome.Invalid, "An append needs a body (or Stream-Closed: true).");
        }

        var producer = request.ProducerId;
        lock (stream.Gate)
        {
            if (stream.Closed)
            {
                if (producer is not null && stream.ClosedBy == (producer, request.ProducerEpoch, request.ProducerSeq))
                {
                    return Describe(stream, DurableOutcome.Duplicate) with { ProducerEpoch = request.ProducerEpoch, ProducerSeq = request.ProducerSeq };
                }

                return request.Close && request.Body.IsEmpty
                    ? Describe(stream, DurableOutcome.Ok)
                    : Describe(stream, DurableOutcome.Closed) with { Message = "The stream is closed." };
            }

            if (!request.Body.IsEmpty && DurableMessages.MediaType(request.ContentType) != DurableMessages.MediaType(stream.ContentType))
            {
                return DurableStreamResult.Fail(DurableOutcome.Conflict, "The content type does not match the stream's.");
            }

            var state = (Epoch: request.ProducerEpoch, Seq: request.ProducerSeq);
            if (producer is not null)
            {
                if (stream.Producers.TryGetValue(producer, out var current))
                {
                    if (request.ProducerEpoch < current.Epoch)
                    {
                        return new DurableStreamResult(DurableOutcome.StaleEpoch) { ProducerEpoch = current.Epoch, Message = "Stale producer epoch." };
                    }

                    if (request.ProducerEpoch == current.Epoch)
                    {
                        if (request.ProducerSeq <= current.Seq)
                        {
                            return Describe(stream, DurableOutcome.Duplicate) with { ProducerEpoch = current.Epoch, ProducerSeq = current.Seq };
                        }

                        if (request.ProducerSeq != current.Seq + 1)
                        {
                            return new DurableStreamResult(DurableOutcome.SequenceGap) { ExpectedSeq = current.Seq + 1, ReceivedSeq = request.ProducerSeq, Message = "Producer sequence gap." };
                        }
                    }
                    else if (request.ProducerSeq != 0)
                    {
                        return DurableStreamResult.Fail(DurableOutcome.Invalid, "A new producer epoch must start at Producer-Seq 0.");
                    }
                }
                else if (request.ProducerSeq != 0)
                {
                    return new DurableStreamResult(DurableOutcome.SequenceGap) { ExpectedSeq = 0, ReceivedSeq = request.ProducerSeq, Message = "Producer sequence gap." };
                }
            }

            if (request.StreamSeq is not null && stream.LastStreamSeq is not null && string.CompareOrdinal(request.StreamSeq, stream.LastStreamSeq) <= 0)
            {
                return DurableStreamResult.Fail(DurableOutcome.Conflict, "Stream-Seq must increase.");
            }

            var messages = new List<ReadOnlyMemory<byte>>();
            if (!request.Body.IsEmpty && !DurableMessages.Split(request.Body, stream.IsJson, allowEmptyArray: false, messages, out var error))
            {
                return DurableStreamResult.Fail(DurableOutcome.Invalid, error!);
            }

            if (!Reserve(Size(messages)))
            {
                return DurableStreamResult.Fail(DurableOutcome.Full, "The stream store is full.");
            }

            foreach (var message in messages)
            {
                stream.Add(message, stream.IsJson ? 1 : message.Length);
            }

            if (producer is not null)
            {
                stream.Producers[producer] = state;
            }

            if (request.StreamSeq is not null)
            {
                stream.LastStreamSeq = request.StreamSeq;
            }

            if (request.Close)
            {
                stream.Closed = true;
                stream.ClosedBy = producer is null ? null : (producer, state.Epoch, state.Seq);
            }

            stream.LastTouched = _time.GetUtcNow();
            stream.Signal();
            var result = Describe(stream, producer is null ? DurableOutcome.Ok : DurableOutcome.Accepted);
            return producer is null ? result : result with { ProducerEpoch = state.Epoch, ProducerSeq = state.Seq };
        }
    }

    /// <summary>The stream at <paramref name="path"/> if the caller may use it; otherwise the failure to answer.</summary>
    private (MemoryDurableStream? Stream, DurableStreamResult? Failure) Find(string path, string? owner)
    {
        lock (_gate)
        {
            var stream = Lookup(path);
            if (stream is null || stream.Owner != owner)
            {
                return (null, new DurableStreamResult(DurableOutcome.NotFound));
            }

            return stream.SoftDeleted ? (null, new DurableStreamResult(DurableOutcome.Gone)) : (stream, null);
        }
    }

    /// <summary>The live stream at a path, retiring it first when it has expired. Call under <see cref="_gate"/>.</summary>
    private MemoryDurableStream? Lookup(string path)
    {
        if (!_streams.TryGetValue(path, out var stream))
        {
            return null;
        }

        bool expired;
        lock (stream.Gate)
        {
            expired = !stream.SoftDeleted && stream.IsExpired(_time.GetUtcNow());
        }

        if (expired)
        {
            Retire(stream);
            return stream.SoftDeleted ? stream : null;
        }

        return stream;
    }

    /// <summary>Deletes a stream, or soft-deletes it while forks hold it; cascades up the fork chain. Call under <see cref="_gate"/>.</summary>
    private void Retire(MemoryDurableStream stream)
    {
        lock (stream.Gate)
        {
            if (stream.ForkCount > 0)
            {
                stream.SoftDeleted = true;
                stream.Signal();
                return;
            }

            stream.Removed = true;
            stream.Signal();
        }

        _streams.Remove(stream.Path);
        Interlocked.Add(ref _bytes, -stream.Bytes);
        if (stream.Source is { } source)
        {
            source.ForkCount--;
            if (source.SoftDeleted && source.ForkCount == 0)
            {
                source.SoftDeleted = false;
                Retire(source);
            }
        }
    }

    /// <summary>Retires every expired stream. Call under <see cref="_gate"/>.</summary>
    private void Sweep()
    {
        foreach (var path in _streams.Keys.ToArray())
        {
            Lookup(path);
        }
    }

    /// <summary>Takes <paramref name="bytes"/> from the memory budget, or returns false when it would overflow.</summary>
    /// <remarks>Never takes <see cref="_gate"/>: it is called under a stream's lock, and the lock order is gate, then stream.</remarks>
    private bool Reserve(long bytes)
    {
        if (Interlocked.Add(ref _bytes, bytes) <= _options.MaxBytes)
        {
            return true;
        }

        Interlocked.Add(ref _bytes, -bytes);
        return false;
    }

    private static long Size(List<ReadOnlyMemory<byte>> messages)
    {
        long size = 0;
        foreach (var message in messages)
        {
            size += message.Length;
        }

        return size;
    }

    private static DurableStreamResult Describe(MemoryDurableStream stream, DurableOutcome outcome) => new(outcome)
    {
        Tail = stream.Tail,
        Closed = stream.Closed,
        ContentType = stream.ContentType,
        TtlSeconds = stream.TtlSeconds,
        ExpiresAt = stream.ExpiresAt,
    };
}
