using System.Diagnostics;
using System.Text;
using StackExchange.Redis;
using Tokenflow.Core.Streams;

namespace Tokenflow.Redis.Tests;

/// <summary>The store on a real Redis, with two nodes standing for two server processes.</summary>
public sealed class RedisStreamStoreTests
{
    private static readonly Timings SomeTimings = new(12.5, 3.25);

    private static async Task<(TestNode A, TestNode B)> TwoNodesAsync(Action<StreamStoreOptions>? streams = null)
    {
        var redis = await RedisServer.Shared;
        return (await TestNode.StartAsync(redis.Configuration, streams), await TestNode.StartAsync(redis.Configuration, streams));
    }

    private static void Append(IStreamWriter writer, string text) => Assert.True(writer.TryAppendDelta(Encoding.UTF8.GetBytes(text)));

    [Fact]
    public async Task Events_written_on_one_process_replay_then_follow_live_on_another()
    {
        var (a, b) = await TwoNodesAsync();
        await using var _a = a;
        await using var _b = b;
        var descriptor = TestNode.Descriptor();
        await using var writer = await a.CreateAsync(descriptor);
        Append(writer, "naïve ");
        Append(writer, "café ");
        Append(writer, "日本語");
        await writer.FlushAsync(CancellationToken.None);

        await using var reader = await b.OpenAsync(descriptor.Id);
        var first = await ReadEvent.ReadAsync(reader, count: 3);
        Assert.Equal("naïve café 日本語", string.Concat(first.Select(e => e.Text)));

        var rest = ReadEvent.ReadAsync(reader);
        Append(writer, " 🚀");
        writer.Complete(FinishReason.Length, new Usage(5, 4), SomeTimings);
        await writer.FlushAsync(CancellationToken.None);
        var all = first.Concat(await rest).ToList();

        Assert.Equal([1, 2, 3, 4, 5, 6], all.Select(e => e.Seq));
        Assert.Equal("naïve café 日本語 🚀", string.Concat(all.Select(e => e.Text)));
        Assert.Equal(StreamEventKind.Usage, all[^2].Kind);
        Assert.Equal(StreamEventKind.Done, all[^1].Kind);
        Assert.Equal(FinishReason.Length, all[^1].FinishReason);
        Assert.Equal(new Usage(5, 4), all[^1].Usage);
        Assert.False(await reader.WaitToReadAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_reader_elsewhere_resumes_after_a_position_without_gap_or_duplicate()
    {
        var (a, b) = await TwoNodesAsync();
        await using var _a = a;
        await using var _b = b;
        var descriptor = TestNode.Descriptor();
        await using var writer = await a.CreateAsync(descriptor);
        for (var i = 1; i <= 50; i++)
        {
            Append(writer, $"<{i}>");
            await writer.FlushAsync(CancellationToken.None);
        }

        writer.Complete(FinishReason.Stop, new Usage(1, 50), SomeTimings);
        await writer.FlushAsync(CancellationToken.None);

        await using var resumed = await b.OpenAsync(descriptor.Id, after: 20);
        var events = await ReadEvent.ReadAsync(resumed);
        Assert.Equal(Enumerable.Range(21, 32).Select(i => (long)i), events.Select(e => e.Seq));
        Assert.Equal(string.Concat(Enumerable.Range(21, 30).Select(i => $"<{i}>")), string.Concat(events.Select(e => e.Text)));

        // A reader positioned at the terminal event has nothing more to read.
        await using var atEnd = await b.OpenAsync(descriptor.Id, after: 52);
        Assert.False(await atEnd.WaitToReadAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_fast_writer_is_batched_and_every_reader_sees_every_event_in_order()
    {
        var (a, b) = await TwoNodesAsync();
        await using var _a = a;
        await using var _b = b;
        var descriptor = TestNode.Descriptor();
        await using var writer = await a.CreateAsync(descriptor);
        await using var remote = await b.OpenAsync(descriptor.Id);
        await using var local = await a.OpenAsync(descriptor.Id);
        var remoteRead = Task.Run(() => ReadEvent.ReadAsync(remote));
        var localRead = Task.Run(() => ReadEvent.ReadAsync(local));

        const int Count = 20_000;
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Count; i++)
        {
            Append(writer, $"{i % 10}");
            await writer.FlushAsync(CancellationToken.None);
        }

        writer.Complete(FinishReason.Length, new Usage(1, Count), SomeTimings);
        await writer.FlushAsync(CancellationToken.None);
        clock.Stop();

        var expected = string.Concat(Enumerable.Range(0, Count).Select(i => $"{i % 10}"));
        foreach (var events in new[] { await remoteRead, await localRead })
        {
            Assert.Equal(Enumerable.Range(1, Count + 2).Select(i => (long)i), events.Select(e => e.Seq));
            Assert.Equal(expected, string.Concat(events.Select(e => e.Text)));
        }

        // One Redis entry per batch, not per token: a fast writer needs far fewer round trips than events.
        var redis = await ConnectionMultiplexer.ConnectAsync((await RedisServer.Shared).Configuration);
        await using (redis)
        {
            var entries = await redis.GetDatabase().StreamLengthAsync(new StreamKeys("tokenflow", descriptor.Id).Events);
            Assert.True(entries < Count / 4, $"{entries} Redis entries for {Count} events");
        }
    }

    [Fact]
    public async Task Cancel_on_another_process_stops_the_writer()
    {
        var (a, b) = await TwoNodesAsync();
        await using var _a = a;
        await using var _b = b;
        var descriptor = TestNode.Descriptor(background: true);
        await using var writer = await a.CreateAsync(descriptor);
        Append(writer, "x");
        await writer.FlushAsync(CancellationToken.None);

        Assert.True(await b.Store.CancelAsync(descriptor.Id, CancellationToken.None));
        await WaitForAsync(() => writer.Stopping.IsCancellationRequested, TimeSpan.FromSeconds(5));

        writer.Complete(FinishReason.Cancelled, new Usage(1, 1), SomeTimings);
        await writer.FlushAsync(CancellationToken.None);
        var status = await b.Store.GetStatusAsync(descriptor.Id, CancellationToken.None);
        Assert.Equal(StreamState.Cancelled, status!.State);
        Assert.False(await b.Store.CancelAsync(StreamIds.New("test-"), CancellationToken.None));
    }

    [Fact]
    public async Task A_reader_on_another_process_counts_for_the_grace_period()
    {
        var (a, b) = await TwoNodesAsync();
        await using var _a = a;
        await using var _b = b;
        var descriptor = TestNode.Descriptor(grace: TimeSpan.FromMilliseconds(300));
        await using var writer = await a.CreateAsync(descriptor);

        var local = await a.OpenAsync(descriptor.Id);
        var remote = await b.OpenAsync(descriptor.Id);
        await local.DisposeAsync();

        // Well past the grace period, the reader on B still keeps the generation alive.
        await Task.Delay(1200);
        Assert.False(writer.Stopping.IsCancellationRequested);

        var clock = Stopwatch.StartNew();
        await remote.DisposeAsync();
        await WaitForAsync(() => writer.Stopping.IsCancellationRequested, TimeSpan.FromSeconds(5));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(250), $"stopped after {clock.Elapsed}");
    }

    [Fact]
    public async Task A_background_stream_is_not_stopped_when_every_reader_leaves()
    {
        var (a, b) = await TwoNodesAsync();
        await using var _a = a;
        await using var _b = b;
        var descriptor = TestNode.Descriptor(background: true, grace: TimeSpan.Zero);
        await using var writer = await a.CreateAsync(descriptor);
        await (await a.OpenAsync(descriptor.Id)).DisposeAsync();
        await (await b.OpenAsync(descriptor.Id)).DisposeAsync();
        await Task.Delay(800);
        Assert.False(writer.Stopping.IsCancellationRequested);
    }

    [Fact]
    public async Task Status_and_descriptor_are_the_same_from_every_process()
    {
        var (a, b) = await TwoNodesAsync();
        await using var _a = a;
        await using var _b = b;
        var descriptor = TestNode.Descriptor(background: true, grace: TimeSpan.FromSeconds(7));
        var writer = await a.CreateAsync(descriptor);
        Append(writer, "one");
        Append(writer, " two");
        await writer.FlushAsync(CancellationToken.None);
        await WaitForAsync(async () => (await b.Store.GetStatusAsync(descriptor.Id, CancellationToken.None))!.LastSeq == 2, TimeSpan.FromSeconds(5));

        var seen = await b.Store.GetDescriptorAsync(descriptor.Id, CancellationToken.None);
        Assert.NotNull(seen);
        Assert.Equal((descriptor.Model, descriptor.Created, descriptor.Background, descriptor.ResumeGrace, descriptor.Owner, descriptor.Metadata), (seen.Model, seen.Created, seen.Background, seen.ResumeGrace, seen.Owner, seen.Metadata));
        Assert.Equal(StreamState.Running, (await b.Store.GetStatusAsync(descriptor.Id, CancellationToken.None))!.State);

        writer.Complete(FinishReason.Stop, new Usage(3, 2), SomeTimings);
        await writer.DisposeAsync();
        foreach (var node in new[] { a, b })
        {
            var status = await node.Store.GetStatusAsync(descriptor.Id, CancellationToken.None);
            Assert.Equal(new StreamStatus(descriptor.Id, "sim", StreamState.Completed, descriptor.Created, 4, new Usage(3, 2)), status);
        }

        Assert.Null(await b.Store.GetStatusAsync(StreamIds.New("test-"), CancellationToken.None));
        Assert.Null(await b.Store.GetDescriptorAsync(StreamIds.New("test-"), CancellationToken.None));
        Assert.Equal(StreamOpenStatus.NotFound, (await b.Store.OpenReaderAsync(StreamIds.New("test-"), 0, CancellationToken.None)).Status);
    }

    [Fact]
    public async Task A_finished_stream_expires_after_the_completed_ttl()
    {
        var (a, b) = await TwoNodesAsync(o => o.CompletedTtl = TimeSpan.FromMilliseconds(700));
        await using var _a = a;
        await using var _b = b;
        var descriptor = TestNode.Descriptor();
        var writer = await a.CreateAsync(descriptor);
        Append(writer, "short-lived");
        writer.Complete(FinishReason.Stop, new Usage(1, 1), SomeTimings);
        await writer.DisposeAsync();

        Assert.NotNull(await b.Store.GetStatusAsync(descriptor.Id, CancellationToken.None));
        await WaitForAsync(async () => await b.Store.GetStatusAsync(descriptor.Id, CancellationToken.None) is null, TimeSpan.FromSeconds(5));
        Assert.Null(await a.Store.GetDescriptorAsync(descriptor.Id, CancellationToken.None));
        Assert.Equal(StreamOpenStatus.NotFound, (await a.Store.OpenReaderAsync(descriptor.Id, 0, CancellationToken.None)).Status);
    }

    [Fact]
    public async Task Limits_refuse_extra_streams_duplicate_ids_and_overlong_streams()
    {
        var (a, b) = await TwoNodesAsync(o =>
        {
            o.MaxRunningStreams = 1;
            o.MaxEventsPerStream = 16;
        });
        await using var _a = a;
        await using var _b = b;
        var descriptor = TestNode.Descriptor();
        var writer = await a.CreateAsync(descriptor);
        Assert.Equal(StreamCreateStatus.Full, (await a.Store.CreateAsync(TestNode.Descriptor(), CancellationToken.None)).Status);
        Assert.Equal(StreamCreateStatus.Exists, (await b.Store.CreateAsync(descriptor, CancellationToken.None)).Status);

        var accepted = 0;
        while (writer.TryAppendDelta("x"u8))
        {
            accepted++;
        }

        Assert.Equal(14, accepted);
        writer.Fail(new StreamError("too long", "server_error", "stream_limit_exceeded"), new Usage(1, 15));
        await writer.DisposeAsync();
        Assert.Equal(StreamCreateStatus.Created, (await a.Store.CreateAsync(TestNode.Descriptor(), CancellationToken.None)).Status);

        await using var reader = await b.OpenAsync(descriptor.Id);
        var events = await ReadEvent.ReadAsync(reader);
        Assert.Equal(15, events.Count);
        Assert.Equal(("stream_limit_exceeded", StreamEventKind.Error), (events[^1].ErrorCode, events[^1].Kind));
    }

    [Fact]
    public async Task When_the_writers_process_dies_readers_elsewhere_get_an_error_event()
    {
        var (a, b) = await TwoNodesAsync();
        await using var _b = b;
        var descriptor = TestNode.Descriptor(background: true);
        var writer = await a.CreateAsync(descriptor);
        Append(writer, "before the crash");
        await writer.FlushAsync(CancellationToken.None);
        await using var reader = await b.OpenAsync(descriptor.Id);
        Assert.Single(await ReadEvent.ReadAsync(reader, count: 1));

        var clock = Stopwatch.StartNew();
        await a.KillAsync();
        var rest = await ReadEvent.ReadAsync(reader, timeoutSeconds: 10);
        var error = Assert.Single(rest);
        Assert.Equal((2L, StreamEventKind.Error, "writer_lost"), (error.Seq, error.Kind, error.ErrorCode));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"error after {clock.Elapsed}");
        Assert.Equal(StreamState.Failed, (await b.Store.GetStatusAsync(descriptor.Id, CancellationToken.None))!.State);
        await a.DisposeAsync();
    }

    [Fact]
    public async Task Without_Redis_creating_is_unavailable_and_reading_throws()
    {
        await using var node = await TestNode.StartAsync($"127.0.0.1:{RedisServer.FreePort()},connectTimeout=500");
        var (status, writer) = await node.Store.CreateAsync(TestNode.Descriptor(), CancellationToken.None);
        Assert.Equal(StreamCreateStatus.Unavailable, status);
        Assert.Null(writer);
        var id = StreamIds.New("test-");
        await Assert.ThrowsAsync<StreamStoreUnavailableException>(async () => await node.Store.GetStatusAsync(id, CancellationToken.None));
        await Assert.ThrowsAsync<StreamStoreUnavailableException>(async () => await node.Store.GetDescriptorAsync(id, CancellationToken.None));
        await Assert.ThrowsAsync<StreamStoreUnavailableException>(async () => await node.Store.OpenReaderAsync(id, 0, CancellationToken.None));
        await Assert.ThrowsAsync<StreamStoreUnavailableException>(async () => await node.Store.CancelAsync(id, CancellationToken.None));
        Assert.Equal(0, node.Store.RunningStreams);
    }

    internal static Task WaitForAsync(Func<bool> condition, TimeSpan timeout) => WaitForAsync(() => Task.FromResult(condition()), timeout);

    internal static async Task WaitForAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(deadline.Elapsed < timeout, "The condition was not met in time.");
            await Task.Delay(20);
        }
    }
}
