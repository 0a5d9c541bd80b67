using System.Diagnostics;
using System.Text;
using Tokenflow.Core.Streams;

namespace Tokenflow.Testing.Contracts;

/// <summary>
/// The contract of the generation stream store (<see cref="IStreamStore"/>), through its public interface only, run
/// against every store (memory, Redis, Redis Cluster). A store's test class says how to start a store and a peer: a
/// second handle on the same streams (for the memory store, the store itself; for Redis, another "process" on the
/// same Redis), so every behaviour is checked from the writer's side and from elsewhere. Real time: the grace
/// periods are short, and every wait has a timeout. Linked into Core.Tests and Redis.Tests.
/// </summary>
public abstract class StreamStoreContract : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private static readonly Timings SomeTimings = new(12.5, 3.25);
    private readonly List<IAsyncDisposable> _owned = [];

    /// <summary>Starts a store with these options; the owner stops it.</summary>
    protected abstract Task<(IStreamStore Store, IAsyncDisposable Owner)> StartStoreAsync(StreamStoreOptions options);

    /// <summary>Starts another handle on the streams of <paramref name="store"/> (another process on the same Redis), or returns the store itself.</summary>
    protected abstract Task<(IStreamStore Store, IAsyncDisposable? Owner)> StartPeerAsync(IStreamStore store, StreamStoreOptions options);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }
    }

    private async Task<(IStreamStore Store, IStreamStore Peer)> StoresAsync(TimeSpan? grace = null)
    {
        var options = new StreamStoreOptions { ResumeGrace = grace ?? TimeSpan.FromMilliseconds(300) };
        var (store, owner) = await StartStoreAsync(options);
        _owned.Add(owner);
        var (peer, peerOwner) = await StartPeerAsync(store, options);
        if (peerOwner is not null)
        {
            _owned.Add(peerOwner);
        }

        return (store, peer);
    }

    private static StreamDescriptor Descriptor(bool background = false, TimeSpan? grace = null) => new()
    {
        Id = StreamIds.New("contract-"),
        Model = "sim",
        Created = 1_700_000_000,
        Background = background,
        ResumeGrace = grace,
        Metadata = "chat+usage",
        Context = "[{\"role\":\"user\",\"content\":\"Grüße\"}]",
        Owner = "owner-1",
    };

    private static async Task<IStreamWriter> CreateAsync(IStreamStore store, StreamDescriptor descriptor)
    {
        var (status, writer) = await store.CreateAsync(descriptor, CancellationToken.None);
        Assert.Equal(StreamCreateStatus.Created, status);
        return writer!;
    }

    private static async Task<IStreamReader> OpenAsync(IStreamStore store, string id, long after = 0)
    {
        var (status, reader) = await store.OpenReaderAsync(id, after, CancellationToken.None);
        Assert.Equal(StreamOpenStatus.Opened, status);
        return reader!;
    }

    private static void Append(IStreamWriter writer, string text) => Assert.True(writer.TryAppendDelta(Encoding.UTF8.GetBytes(text)));

    /// <summary>Reads <paramref name="count"/> events, or up to the terminal one when null; fails after the timeout.</summary>
    private static async Task<List<Event>> ReadAsync(IStreamReader reader, int? count = null)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var events = new List<Event>();
        while (count is null || events.Count < count)
        {
            if (!await reader.WaitToReadAsync(timeout.Token))
            {
                break;
            }

            while ((count is null || events.Count < count) && reader.TryRead(out var e))
            {
                events.Add(new Event(e.Seq, e.Kind, Encoding.UTF8.GetString(e.Text.Span), e.FinishReason, e.Usage, e.Error) { StopSequence = e.StopSequence });
                if (e.IsTerminal)
                {
                    return events;
                }
            }
        }

        return events;
    }

    private static async Task<bool> StoppedWithinAsync(IStreamWriter writer, TimeSpan timeout)
    {
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var registration = writer.Stopping.Register(() => stopped.TrySetResult());
        return await Task.WhenAny(stopped.Task, Task.Delay(timeout)) == stopped.Task;
    }

    [Fact]
    public async Task An_interrupt_while_no_wait_is_pending_wakes_the_next_wait()
    {
        // A one-shot heartbeat timer may fire while its reader is between waits; the wake-up must not be lost,
        // or the reader sleeps until the next token (a prefill of many seconds sends no heartbeat at all).
        var (store, peer) = await StoresAsync();
        var writer = await CreateAsync(store, Descriptor());
        var appended = 0;
        foreach (var side in new[] { store, peer })
        {
            await using var reader = await OpenAsync(side, writer.StreamId, after: appended);
            reader.Interrupt();
            Assert.True(await reader.WaitToReadAsync(CancellationToken.None).AsTask().WaitAsync(Timeout));
            Assert.False(reader.TryRead(out _));

            // Consumed: the next wait waits for the log again, and the next event wakes it.
            var next = reader.WaitToReadAsync(CancellationToken.None).AsTask();
            Append(writer, "x");
            appended++;
            Assert.True(await next.WaitAsync(Timeout));
        }

        writer.Complete(FinishReason.Stop, new Usage(1, 1), default);
    }

    [Fact]
    public async Task A_created_stream_exists_with_its_descriptor_and_status_everywhere()
    {
        var (store, peer) = await StoresAsync();
        var descriptor = Descriptor(background: true, grace: TimeSpan.FromSeconds(7));
        await using var writer = await CreateAsync(store, descriptor);
        Assert.Equal(descriptor.Id, writer.StreamId);
        Assert.Equal(StreamCreateStatus.Exists, (await store.CreateAsync(descriptor, CancellationToken.None)).Status);
        Assert.Equal(StreamCreateStatus.Exists, (await peer.CreateAsync(descriptor, CancellationToken.None)).Status);

        foreach (var where in new[] { store, peer })
        {
            var seen = await where.GetDescriptorAsync(descriptor.Id, CancellationToken.None);
            Assert.NotNull(seen);
            Assert.Equal((descriptor.Model, descriptor.Created, true, TimeSpan.FromSeconds(7), "chat+usage", "owner-1"), (seen.Model, seen.Created, seen.Background, seen.ResumeGrace, seen.Metadata, seen.Owner));
            Assert.Equal(descriptor.Context, seen.Context);
            var status = await where.GetStatusAsync(descriptor.Id, CancellationToken.None);
            Assert.Equal((descriptor.Id, "sim", StreamState.Running, 1_700_000_000L), (status!.Id, status.Model, status.State, status.Created));
        }

        writer.Complete(FinishReason.Stop, new Usage(3, 0), SomeTimings);
        await writer.FlushAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Channels_tool_calls_watches_and_error_status_read_back_the_same_everywhere()
    {
        var (store, peer) = await StoresAsync();
        var descriptor = Descriptor();
        var writer = await CreateAsync(store, descriptor);
        Assert.True(writer.TryAppendDelta(DeltaChannel.Reasoning, "Thinking… ü"u8));
        Assert.True(writer.TryAppendDelta("Answer"u8));
        Assert.True(writer.TryAppendToolCallStart(0, "call_a", "get_weather", "{\"city\":"u8));
        Assert.True(writer.TryAppendDelta(DeltaChannel.ToolCall, "\"Zürich\"}"u8, 0));
        Assert.True(writer.TryAppendToolCallStart(3, "call_b", "lookup", ""u8));
        Assert.True(writer.TryAppendDelta(DeltaChannel.Refusal, "no"u8));
        Assert.True(writer.TryAppendWatch(new WatchMatch("w1", 4, "{\"city\":\"Zürich\"}")));
        writer.Fail(new StreamError("Slow down", "rate_limit_error", "rate_limited") { Status = 429, RetryAfter = TimeSpan.FromSeconds(7) }, new Usage(5, 6));
        await writer.FlushAsync(CancellationToken.None);
        await writer.DisposeAsync();

        foreach (var where in new[] { store, peer })
        {
            await using var reader = await OpenAsync(where, descriptor.Id);
            var events = new List<StreamEvent>();
            var texts = new List<string>();
            using var timeout = new CancellationTokenSource(Timeout);
            while (events.Count == 0 || !events[^1].IsTerminal)
            {
                Assert.True(await reader.WaitToReadAsync(timeout.Token));
                while (reader.TryRead(out var e))
                {
                    events.Add(e);
                    texts.Add(Encoding.UTF8.GetString(e.Text.Span));
                }
            }

            Assert.Equal(
                [(DeltaChannel.Reasoning, StreamEventKind.Delta, "Thinking… ü"), (DeltaChannel.Content, StreamEventKind.Delta, "Answer"), (DeltaChannel.ToolCall, StreamEventKind.Delta, "{\"city\":"), (DeltaChannel.ToolCall, StreamEventKind.Delta, "\"Zürich\"}"), (DeltaChannel.ToolCall, StreamEventKind.Delta, ""), (DeltaChannel.Refusal, StreamEventKind.Delta, "no"), (DeltaChannel.Content, StreamEventKind.Watch, ""), (DeltaChannel.Content, StreamEventKind.Error, "")],
                events.Select((e, i) => (e.Channel, e.Kind, texts[i])));
            Assert.Equal([null, null, "call_a", null, "call_b", null, null, null], events.Select(e => e.ToolCallId));
            Assert.Equal([null, null, "get_weather", null, "lookup", null, null, null], events.Select(e => e.ToolName));
            Assert.Equal([0, 0, 0, 0, 3, 0, 0, 0], events.Select(e => e.ToolCallIndex));
            Assert.Equal(new WatchMatch("w1", 4, "{\"city\":\"Zürich\"}"), events[6].Watch);
            var error = events[^1].Error!;
            Assert.Equal(("Slow down", "rate_limit_error", "rate_limited", 429, TimeSpan.FromSeconds(7)), (error.Message, error.Type, error.Code, error.Status, error.RetryAfter));
            Assert.Equal(new Usage(5, 6), events[^1].Usage);
        }
    }

    [Fact]
    public async Task The_stop_sequence_that_ended_a_stream_reads_back_everywhere()
    {
        var (store, peer) = await StoresAsync();
        var descriptor = Descriptor();
        var writer = await CreateAsync(store, descriptor);
        Append(writer, "Amen");
        writer.Complete(FinishReason.Stop, new Usage(2, 1), SomeTimings, "\n\nFin ✝");
        await writer.FlushAsync(CancellationToken.None);
        await writer.DisposeAsync();

        foreach (var where in new[] { store, peer })
        {
            await using var reader = await OpenAsync(where, descriptor.Id);
            var events = await ReadAsync(reader);
            Assert.Equal([null, "\n\nFin ✝", "\n\nFin ✝"], events.Select(e => e.StopSequence));
            Assert.Equal([StreamEventKind.Delta, StreamEventKind.Usage, StreamEventKind.Done], events.Select(e => e.Kind));
        }
    }

    [Fact]
    public async Task Retention_none_releases_what_a_reader_passed_so_a_replay_from_the_start_is_refused_everywhere()
    {
        const int deltas = 2000;
        var (store, peer) = await StoresAsync();
        var descriptor = new StreamDescriptor { Id = StreamIds.New("contract-"), Model = "sim", Retention = StreamRetention.None };
        await using var writer = await CreateAsync(store, descriptor);
        await using (var reader = await OpenAsync(store, descriptor.Id))
        {
            // The reader keeps up: after each slice it has read everything appended so far.
            for (var i = 0; i < deltas; i++)
            {
                Append(writer, $"t{i} ");
                if (i % 100 == 99)
                {
                    Assert.Equal(100, (await ReadAsync(reader, count: 100)).Count);
                }
            }

            writer.Complete(FinishReason.Stop, new Usage(1, deltas), SomeTimings);
            await writer.FlushAsync(CancellationToken.None);
            Assert.Equal(StreamEventKind.Done, (await ReadAsync(reader))[^1].Kind);
        }

        foreach (var where in new[] { store, peer })
        {
            Assert.Equal(StreamRetention.None, (await where.GetDescriptorAsync(descriptor.Id, CancellationToken.None))?.Retention);
            var (status, refused) = await where.OpenReaderAsync(descriptor.Id, 0, CancellationToken.None);
            Assert.Equal(StreamOpenStatus.Truncated, status);
            Assert.Null(refused);

            await using var tail = await OpenAsync(where, descriptor.Id, deltas - 10);
            var events = await ReadAsync(tail);
            Assert.Equal(string.Concat(Enumerable.Range(deltas - 10, 10).Select(i => $"t{i} ")), string.Concat(events.Where(e => e.Kind == StreamEventKind.Delta).Select(e => e.Text)));
            Assert.Equal(StreamEventKind.Done, events[^1].Kind);
        }
    }

    [Fact]
    public async Task An_unknown_stream_is_not_found()
    {
        var (store, peer) = await StoresAsync();
        foreach (var where in new[] { store, peer })
        {
            var id = StreamIds.New("contract-");
            Assert.Equal(StreamOpenStatus.NotFound, (await where.OpenReaderAsync(id, 0, CancellationToken.None)).Status);
            Assert.Null(await where.GetStatusAsync(id, CancellationToken.None));
            Assert.Null(await where.GetDescriptorAsync(id, CancellationToken.None));
            Assert.False(await where.CancelAsync(id, CancellationToken.None));
        }
    }

    [Fact]
    public async Task A_reader_from_any_seq_replays_then_follows_live_to_the_terminal_event()
    {
        var (store, peer) = await StoresAsync();
        var descriptor = Descriptor();
        await using var writer = await CreateAsync(store, descriptor);
        Append(writer, "naïve ");
        Append(writer, "café ");
        Append(writer, "日本語");
        await writer.FlushAsync(CancellationToken.None);

        foreach (var where in new[] { store, peer })
        {
            await using var fromTwo = await OpenAsync(where, descriptor.Id, after: 2);
            Assert.Equal([(3L, "日本語")], (await ReadAsync(fromTwo, count: 1)).Select(e => (e.Seq, e.Text)));
        }

        await using var local = await OpenAsync(store, descriptor.Id);
        await using var remote = await OpenAsync(peer, descriptor.Id);
        var replayed = await ReadAsync(remote, count: 3);
        Assert.Equal("naïve café 日本語", string.Concat(replayed.Select(e => e.Text)));
        var rest = ReadAsync(remote);
        var localAll = ReadAsync(local);
        Append(writer, " 🚀");
        await writer.FlushAsync(CancellationToken.None);
        writer.Complete(FinishReason.Length, new Usage(5, 4), SomeTimings);
        await writer.FlushAsync(CancellationToken.None);

        var all = replayed.Concat(await rest).ToList();
        Assert.Equal([1, 2, 3, 4, 5, 6], all.Select(e => e.Seq));
        Assert.Equal("naïve café 日本語 🚀", string.Concat(all.Select(e => e.Text)));
        Assert.Equal([StreamEventKind.Usage, StreamEventKind.Done], all[^2..].Select(e => e.Kind));
        Assert.Equal((FinishReason.Length, new Usage(5, 4)), (all[^1].FinishReason, all[^1].Usage));
        Assert.Equal(all, await localAll);
        Assert.False(await remote.WaitToReadAsync(CancellationToken.None));

        // After the end: a reader at the terminal event has nothing more; the status is final everywhere.
        await using var atEnd = await OpenAsync(peer, descriptor.Id, after: 6);
        using (var timeout = new CancellationTokenSource(Timeout))
        {
            Assert.False(await atEnd.WaitToReadAsync(timeout.Token));
        }

        foreach (var where in new[] { store, peer })
        {
            var status = await where.GetStatusAsync(descriptor.Id, CancellationToken.None);
            Assert.Equal((StreamState.Completed, 6L, new Usage(5, 4)), (status!.State, status.LastSeq, status.Usage));
        }
    }

    [Fact]
    public async Task Many_readers_see_the_same_events_in_the_same_order()
    {
        var (store, peer) = await StoresAsync();
        var descriptor = Descriptor();
        await using var writer = await CreateAsync(store, descriptor);
        var readers = new List<IStreamReader>();
        for (var i = 0; i < 8; i++)
        {
            readers.Add(await OpenAsync(i % 2 == 0 ? store : peer, descriptor.Id));
        }

        var reads = readers.Select(r => ReadAsync(r)).ToList();
        for (var i = 1; i <= 200; i++)
        {
            Append(writer, $"<{i}>");
            if (i % 7 == 0)
            {
                await writer.FlushAsync(CancellationToken.None);
            }
        }

        writer.Complete(FinishReason.Stop, new Usage(1, 200), SomeTimings);
        await writer.FlushAsync(CancellationToken.None);
        var transcripts = await Task.WhenAll(reads);
        Assert.All(transcripts, t => Assert.Equal(transcripts[0], t));
        Assert.Equal(202, transcripts[0].Count);
        Assert.Equal(string.Concat(Enumerable.Range(1, 200).Select(i => $"<{i}>")), string.Concat(transcripts[0].Select(e => e.Text)));
        foreach (var reader in readers)
        {
            await reader.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_cancel_from_anywhere_signals_the_writer_and_readers_see_it_end_cancelled()
    {
        var (store, peer) = await StoresAsync();
        var descriptor = Descriptor(background: true);
        await using var writer = await CreateAsync(store, descriptor);
        Append(writer, "partial");
        await writer.FlushAsync(CancellationToken.None);
        await using var reader = await OpenAsync(peer, descriptor.Id);
        Assert.False(writer.Stopping.IsCancellationRequested);

        Assert.True(await peer.CancelAsync(descriptor.Id, CancellationToken.None));
        Assert.True(await StoppedWithinAsync(writer, Timeout), "the writer was not told to stop");
        writer.Complete(FinishReason.Cancelled, new Usage(2, 1), SomeTimings);
        await writer.FlushAsync(CancellationToken.None);

        var events = await ReadAsync(reader);
        Assert.Equal("partial", events[0].Text);
        Assert.Equal((StreamEventKind.Done, FinishReason.Cancelled), (events[^1].Kind, events[^1].FinishReason));
        Assert.Equal(StreamState.Cancelled, (await peer.GetStatusAsync(descriptor.Id, CancellationToken.None))!.State);
    }

    [Fact]
    public async Task When_the_last_reader_leaves_the_writer_stops_after_the_grace_but_a_background_stream_never()
    {
        var grace = TimeSpan.FromMilliseconds(600);
        var (store, peer) = await StoresAsync(grace);
        var normal = Descriptor();
        var reference = Descriptor();
        // The background stream's own grace is the shortest: had it been stopped, that would have come first.
        var background = Descriptor(background: true, grace: TimeSpan.FromMilliseconds(100));
        var writers = new List<IStreamWriter>();
        foreach (var descriptor in new[] { normal, reference, background })
        {
            var writer = await CreateAsync(store, descriptor);
            Append(writer, "a");
            await writer.FlushAsync(CancellationToken.None);
            writers.Add(writer);
        }

        var (normalWriter, referenceWriter, backgroundWriter) = (writers[0], writers[1], writers[2]);
        var first = await OpenAsync(peer, normal.Id);
        var second = await OpenAsync(store, normal.Id);
        var onReference = await OpenAsync(peer, reference.Id);
        var onBackground = await OpenAsync(peer, background.Id);
        Assert.Single(await ReadAsync(first, count: 1));
        await first.DisposeAsync();
        await onReference.DisposeAsync();
        await onBackground.DisposeAsync();

        // The reference stream lost its only reader when the normal one lost one of two: once the reference is
        // stopped, the grace has passed for both, and only the one without readers may be stopped.
        Assert.True(await StoppedWithinAsync(referenceWriter, Timeout), "a stream without readers was not stopped after the grace");
        Assert.False(normalWriter.Stopping.IsCancellationRequested, "stopped while a reader was still open");
        Assert.False(backgroundWriter.Stopping.IsCancellationRequested, "a background stream was stopped by its readers leaving");

        var left = Stopwatch.StartNew();
        await second.DisposeAsync();
        Assert.False(normalWriter.Stopping.IsCancellationRequested);
        Assert.True(await StoppedWithinAsync(normalWriter, Timeout), "the writer was not stopped after the grace");
        Assert.True(left.Elapsed >= grace * 0.8, $"stopped {left.Elapsed.TotalMilliseconds} ms after the last reader left, before the grace");
        Assert.False(backgroundWriter.Stopping.IsCancellationRequested, "a background stream was stopped by its readers leaving");

        foreach (var writer in writers)
        {
            writer.Complete(FinishReason.Cancelled, new Usage(1, 1), SomeTimings);
            await writer.FlushAsync(CancellationToken.None);
            await writer.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_failed_stream_ends_with_an_error_event_everywhere()
    {
        var (store, peer) = await StoresAsync();
        var descriptor = Descriptor();
        await using var writer = await CreateAsync(store, descriptor);
        await using var local = await OpenAsync(store, descriptor.Id);
        await using var remote = await OpenAsync(peer, descriptor.Id);
        Append(writer, "so far");
        writer.Fail(new StreamError("the backend broke", "server_error", "backend_failed"), new Usage(4, 1));
        await writer.FlushAsync(CancellationToken.None);

        foreach (var reader in new[] { local, remote })
        {
            var events = await ReadAsync(reader);
            Assert.Equal("so far", events[0].Text);
            Assert.Equal(StreamEventKind.Error, events[^1].Kind);
            Assert.Equal(new StreamError("the backend broke", "server_error", "backend_failed"), events[^1].Error);
            Assert.False(await reader.WaitToReadAsync(CancellationToken.None));
        }

        Assert.Equal(StreamState.Failed, (await peer.GetStatusAsync(descriptor.Id, CancellationToken.None))!.State);
    }

    private sealed record Event(long Seq, StreamEventKind Kind, string Text, FinishReason FinishReason, Usage Usage, StreamError? Error)
    {
        public string? StopSequence { get; init; }
    }
}
