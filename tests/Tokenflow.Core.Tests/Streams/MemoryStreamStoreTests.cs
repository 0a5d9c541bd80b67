using Microsoft.Extensions.Time.Testing;
using Tokenflow.Core.Streams;

namespace Tokenflow.Core.Tests.Streams;

public sealed class MemoryStreamStoreTests
{
    private const int Overhead = StreamLog.EventOverheadBytes;
    private static readonly TimeSpan Ttl = new StreamStoreOptions().CompletedTtl;
    private static readonly TimeSpan SweepInterval = new StreamStoreOptions().SweepInterval;
    private static readonly TimeSpan Tick = TimeSpan.FromTicks(1);
    private readonly FakeTimeProvider _time = new();

    [Theory]
    [InlineData(FinishReason.Stop)]
    [InlineData(FinishReason.Cancelled)]
    [InlineData(FinishReason.Error)]
    public async Task A_finished_stream_is_gone_exactly_one_ttl_after_it_ended(FinishReason finish)
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store);
        TestStore.AppendText(writer, "some text");
        _time.Advance(TimeSpan.FromMinutes(42));
        End(writer, finish);

        _time.Advance(Ttl - Tick);
        Assert.NotNull(await store.GetStatusAsync(writer.StreamId, CancellationToken.None));
        Assert.NotNull(await store.GetDescriptorAsync(writer.StreamId, CancellationToken.None));
        var expectedEvents = finish == FinishReason.Error ? 2 : 3; // delta + error, or delta + usage + done
        Assert.Equal(expectedEvents, (await StreamTranscript.ReadToEndAsync(store, writer.StreamId)).Count);

        _time.Advance(Tick);
        Assert.Null(await store.GetStatusAsync(writer.StreamId, CancellationToken.None));
        Assert.Null(await store.GetDescriptorAsync(writer.StreamId, CancellationToken.None));
        var (status, reader) = await store.OpenReaderAsync(writer.StreamId, 0, CancellationToken.None);
        Assert.Equal(StreamOpenStatus.NotFound, status);
        Assert.Null(reader);
        Assert.False(await store.CancelAsync(writer.StreamId, CancellationToken.None));
        Assert.Equal(0, store.StreamCount);
        Assert.Equal(0, store.BytesInUse);
    }

    [Fact]
    public async Task The_sweeper_evicts_expired_streams_without_being_asked()
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store);
        TestStore.AppendText(writer, "some text");
        writer.Complete(FinishReason.Stop, default, default);
        Assert.Equal(1, store.StreamCount);

        _time.Advance(Ttl);
        _time.Advance(SweepInterval);

        Assert.Equal(0, store.StreamCount);
        Assert.Equal(0, store.BytesInUse);
    }

    [Fact]
    public async Task A_running_stream_never_expires()
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store);
        _time.Advance(TimeSpan.FromDays(3));
        Assert.Equal(StreamState.Running, (await store.GetStatusAsync(writer.StreamId, CancellationToken.None))?.State);
        TestStore.AppendText(writer, "still here");
    }

    [Fact]
    public async Task Memory_accounting_charges_text_plus_overhead_and_returns_to_zero_after_eviction()
    {
        using var store = TestStore.Create(_time);
        var random = new Random(7);
        long expected = 0;
        var writers = new List<IStreamWriter>();
        for (var s = 0; s < 20; s++)
        {
            var writer = await TestStore.CreateStreamAsync(store);
            writers.Add(writer);
            for (var e = random.Next(0, 30); e > 0; e--)
            {
                var text = new string('x', random.Next(1, 100)) + "日🙂";
                TestStore.AppendText(writer, text);
                expected += System.Text.Encoding.UTF8.GetByteCount(text) + Overhead;
            }

            Assert.Equal(expected, store.BytesInUse);
        }

        foreach (var writer in writers)
        {
            End(writer, writers.IndexOf(writer) % 2 == 0 ? FinishReason.Stop : FinishReason.Error);
        }

        Assert.Equal(0, store.RunningStreams);
        _time.Advance(Ttl);
        _time.Advance(SweepInterval);
        Assert.Equal(0, store.StreamCount);
        Assert.Equal(0, store.BytesInUse);
    }

    [Fact]
    public async Task Appends_over_the_memory_budget_are_refused()
    {
        using var store = TestStore.Create(_time, o => o.MaxBytes = 1024);
        var writer = await TestStore.CreateStreamAsync(store);

        Assert.True(writer.TryAppendDelta(new byte[1024 - Overhead - 1]));
        Assert.False(writer.TryAppendDelta("ab"u8));
        Assert.True(writer.TryAppendDelta(ReadOnlySpan<byte>.Empty));
        Assert.Equal(1024 - 1, store.BytesInUse);
        Assert.Equal(1, (await store.GetStatusAsync(writer.StreamId, CancellationToken.None))?.LastSeq);

        // A refused append leaves the stream able to end readably, over budget if need be.
        writer.Fail(new StreamError("full", "server_error", "stream_limit_exceeded"), default);
        var events = await StreamTranscript.ReadToEndAsync(store, writer.StreamId);
        StreamTranscript.AssertWellFormed(events);
        Assert.Equal(StreamEventKind.Error, events[^1].Kind);
    }

    [Fact]
    public async Task Creating_a_stream_when_running_streams_hold_the_whole_budget_returns_Full()
    {
        using var store = TestStore.Create(_time, o => o.MaxBytes = 1024);
        var writer = await TestStore.CreateStreamAsync(store);
        Assert.True(writer.TryAppendDelta(new byte[1024 - Overhead]));
        Assert.Equal(1024, store.BytesInUse);

        var (status, refused) = await store.CreateAsync(TestStore.Descriptor(), CancellationToken.None);
        Assert.Equal(StreamCreateStatus.Full, status);
        Assert.Null(refused);
        Assert.Equal(1, store.RunningStreams);
        Assert.Equal(1, store.StreamCount);

        // Once the stream has ended it can be evicted to make room.
        writer.Complete(FinishReason.Length, default, default);
        var next = await TestStore.CreateStreamAsync(store);
        Assert.Null(await store.GetStatusAsync(writer.StreamId, CancellationToken.None));
        Assert.Equal(0, store.BytesInUse);
        Assert.Equal(1, store.RunningStreams);
        Assert.Equal(StreamState.Running, (await store.GetStatusAsync(next.StreamId, CancellationToken.None))?.State);
    }

    [Fact]
    public async Task Finished_streams_are_evicted_oldest_first_to_make_room()
    {
        using var store = TestStore.Create(_time, o => o.MaxBytes = 2048);
        var older = await TestStore.CreateStreamAsync(store);
        var newer = await TestStore.CreateStreamAsync(store);
        var running = await TestStore.CreateStreamAsync(store);
        Assert.True(newer.TryAppendDelta(new byte[600 - Overhead]));
        Assert.True(older.TryAppendDelta(new byte[600 - Overhead]));
        Assert.True(running.TryAppendDelta(new byte[600 - Overhead]));
        older.Complete(FinishReason.Stop, default, default);
        _time.Advance(TimeSpan.FromSeconds(1));
        newer.Complete(FinishReason.Stop, default, default);
        Assert.True(store.BytesInUse >= 2048 * 9 / 10);

        await TestStore.CreateStreamAsync(store);

        Assert.Null(await store.GetStatusAsync(older.StreamId, CancellationToken.None));
        Assert.NotNull(await store.GetStatusAsync(newer.StreamId, CancellationToken.None));
        Assert.NotNull(await store.GetStatusAsync(running.StreamId, CancellationToken.None));
    }

    [Fact]
    public async Task No_more_than_MaxRunningStreams_run_at_once()
    {
        using var store = TestStore.Create(_time, o => o.MaxRunningStreams = 2);
        var first = await TestStore.CreateStreamAsync(store);
        await TestStore.CreateStreamAsync(store);
        Assert.Equal(2, store.RunningStreams);

        for (var attempt = 0; attempt < 3; attempt++)
        {
            var (status, writer) = await store.CreateAsync(TestStore.Descriptor(), CancellationToken.None);
            Assert.Equal(StreamCreateStatus.Full, status);
            Assert.Null(writer);
        }

        Assert.Equal(2, store.RunningStreams);
        first.Complete(FinishReason.Stop, default, default);
        Assert.Equal(1, store.RunningStreams);
        await TestStore.CreateStreamAsync(store);
        Assert.Equal(2, store.RunningStreams);
    }

    [Fact]
    public async Task Creating_a_stream_with_an_existing_id_returns_Exists_and_counts_nothing()
    {
        using var store = TestStore.Create(_time);
        var descriptor = TestStore.Descriptor();
        await TestStore.CreateStreamAsync(store, descriptor);

        var (status, writer) = await store.CreateAsync(TestStore.Descriptor(descriptor.Id), CancellationToken.None);
        Assert.Equal(StreamCreateStatus.Exists, status);
        Assert.Null(writer);
        Assert.Equal(1, store.RunningStreams);
        Assert.Equal(1, store.StreamCount);
    }

    [Fact]
    public async Task Unknown_streams_are_not_found()
    {
        using var store = TestStore.Create(_time);
        Assert.Null(await store.GetStatusAsync("nope", CancellationToken.None));
        Assert.Null(await store.GetDescriptorAsync("nope", CancellationToken.None));
        Assert.Equal(StreamOpenStatus.NotFound, (await store.OpenReaderAsync("nope", 0, CancellationToken.None)).Status);
    }

    private static void End(IStreamWriter writer, FinishReason finish)
    {
        if (finish == FinishReason.Error)
        {
            writer.Fail(new StreamError("boom", "server_error", "backend_failed"), default);
        }
        else
        {
            writer.Complete(finish, default, default);
        }
    }
}
