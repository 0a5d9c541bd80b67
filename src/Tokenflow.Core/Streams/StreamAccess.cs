namespace Tokenflow.Core.Streams;

/// <summary>
/// A caller's view of the stream store, the one place where who may see a stream is decided:
/// a stream created with an owner (a hash of an API key) exists only for that owner, and another
/// caller's stream is indistinguishable from an unknown one. Every door opens, inspects and
/// cancels streams through it. Thread-safe.
/// </summary>
public sealed class StreamAccess
{
    private readonly TimeProvider _time;

    /// <summary>Creates the view over <paramref name="store"/>.</summary>
    public StreamAccess(IStreamStore store, TimeProvider time)
    {
        Store = store;
        _time = time;
    }

    /// <summary>The store under the view (for creating streams and for trusted callers).</summary>
    public IStreamStore Store { get; }

    /// <summary>The stream's descriptor when the id is well formed, the stream exists and <paramref name="caller"/> may see it; otherwise null.</summary>
    public async ValueTask<StreamDescriptor?> FindAsync(string? id, string? caller, CancellationToken cancellationToken)
        => id is not null && StreamIds.IsWellFormed(id)
            && await Store.GetDescriptorAsync(id, cancellationToken).ConfigureAwait(false) is { } descriptor
            && string.Equals(descriptor.Owner, caller, StringComparison.Ordinal)
                ? descriptor
                : null;

    /// <summary>The stream's status, or null when <see cref="FindAsync"/> does not find it.</summary>
    public async ValueTask<StreamStatus?> GetStatusAsync(string? id, string? caller, CancellationToken cancellationToken)
        => await FindAsync(id, caller, cancellationToken).ConfigureAwait(false) is null
            ? null
            : await Store.GetStatusAsync(id!, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Opens a reader after <paramref name="afterSeq"/> for <paramref name="caller"/>: the reader
    /// and the stream's descriptor, or why not (<see cref="StreamOpenStatus.NotFound"/> also for
    /// another owner's stream). Dispose the reader: it counts as a subscriber until then.
    /// </summary>
    public async ValueTask<StreamOpening> OpenAsync(string? id, long afterSeq, string? caller, CancellationToken cancellationToken)
    {
        if (await FindAsync(id, caller, cancellationToken).ConfigureAwait(false) is not { } descriptor)
        {
            return new StreamOpening(StreamOpenStatus.NotFound, null, null);
        }

        var (status, reader) = await Store.OpenReaderAsync(id!, afterSeq, cancellationToken).ConfigureAwait(false);
        return new StreamOpening(status, reader, reader is null ? null : descriptor);
    }

    /// <summary>
    /// Cancels the stream and waits, up to <paramref name="waitForEnd"/>, until its generation has
    /// written the terminal event, so the status returned is final (a backend slow to stop gives the
    /// status as it is then). Null when the stream is not found for <paramref name="caller"/>.
    /// </summary>
    public async ValueTask<StreamStatus?> CancelAsync(string? id, string? caller, TimeSpan waitForEnd, CancellationToken cancellationToken)
    {
        if (await FindAsync(id, caller, cancellationToken).ConfigureAwait(false) is null
            || !await Store.CancelAsync(id!, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        if (await Store.GetStatusAsync(id!, cancellationToken).ConfigureAwait(false) is { State: StreamState.Running } running)
        {
            await WaitForEndAsync(id!, running.LastSeq, waitForEnd, cancellationToken).ConfigureAwait(false);
        }

        return await Store.GetStatusAsync(id!, cancellationToken).ConfigureAwait(false);
    }

    private async Task WaitForEndAsync(string id, long afterSeq, TimeSpan limit, CancellationToken cancellationToken)
    {
        var (_, reader) = await Store.OpenReaderAsync(id, afterSeq, cancellationToken).ConfigureAwait(false);
        if (reader is null)
        {
            return;
        }

        await using (reader.ConfigureAwait(false))
        {
            using var timeout = new CancellationTokenSource(limit, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            try
            {
                while (await reader.WaitToReadAsync(linked.Token).ConfigureAwait(false))
                {
                    while (reader.TryRead(out _))
                    {
                    }
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // A backend slow to stop: the caller gets the state as it is now.
            }
        }
    }
}
