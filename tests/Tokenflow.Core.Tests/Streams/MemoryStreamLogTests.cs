using Microsoft.Extensions.Time.Testing;
using Tokenflow.Core.Streams;

namespace Tokenflow.Core.Tests.Streams;

public sealed class MemoryStreamLogTests
{
    private static readonly TimeSpan Grace = new StreamStoreOptions().ResumeGrace;
    private static readonly TimeSpan Tick = TimeSpan.FromTicks(1);
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task Events_are_numbered_from_one_and_the_stream_ends_with_usage_then_done()
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store);
        for (var i = 1; i <= 5; i++)
        {
            TestStore.AppendText(writer, $"d{i}");
        }

        Assert.True(writer.TryAppendDelta([]));
        var status = await store.GetStatusAsync(writer.StreamId, CancellationToken.None);
        Assert.Equal(StreamState.Running, status?.State);
        Assert.Equal(5, status?.LastSeq);

        writer.Complete(FinishReason.Length, new Usage(3, 5), new Timings(1.5, 0.25));

        var events = await StreamTranscript.ReadToEndAsync(store, writer.StreamId);
        StreamTranscript.AssertWellFormed(events);
        Assert.Equal(["d1", "d2", "d3", "d4", "d5"], events.Take(5).Select(e => e.Text));
        Assert.All(events.Take(5), e => Assert.Equal(StreamEventKind.Delta, e.Kind));
        Assert.Equal(StreamEventKind.Usage, events[5].Kind);
        Assert.Equal(StreamEventKind.Done, events[6].Kind);
        Assert.All(events.Skip(5), e => Assert.Equal(FinishReason.Length, e.FinishReason));
        Assert.All(events.Skip(5), e => Assert.Equal(new Usage(3, 5), e.Usage));

        status = await store.GetStatusAsync(writer.StreamId, CancellationToken.None);
        Assert.Equal(new StreamStatus(writer.StreamId, "sim", StreamState.Completed, 1_700_000_000, 7, new Usage(3, 5)), status);
    }

    [Theory]
    [InlineData(FinishReason.Stop, StreamState.Completed)]
    [InlineData(FinishReason.Length, StreamState.Completed)]
    [InlineData(FinishReason.Cancelled, StreamState.Cancelled)]
    public async Task Completing_sets_the_final_state_once(FinishReason finish, StreamState state)
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store);
        writer.Complete(finish, new Usage(1, 1), default);
        writer.Fail(new StreamError("late", "server_error", null), default);
        writer.Complete(FinishReason.Stop, default, default);
        await writer.DisposeAsync();

        Assert.Equal(state, (await store.GetStatusAsync(writer.StreamId, CancellationToken.None))?.State);
        Assert.Equal(2, (await StreamTranscript.ReadToEndAsync(store, writer.StreamId)).Count);
        Assert.Equal(0, store.RunningStreams);
    }

    [Fact]
    public async Task A_writer_disposed_without_ending_its_stream_leaves_an_error_event()
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store);
        await using var reader = await TestStore.OpenAsync(store, writer.StreamId);
        TestStore.AppendText(writer, "partial");
        await writer.DisposeAsync();

        var events = await StreamTranscript.ReadToEndAsync(reader);
        StreamTranscript.AssertWellFormed(events);
        Assert.Equal(StreamEventKind.Error, events[^1].Kind);
        Assert.Equal(StreamState.Failed, (await store.GetStatusAsync(writer.StreamId, CancellationToken.None))?.State);
        Assert.Equal(0, store.RunningStreams);
    }

    [Fact]
    public async Task The_writer_stops_only_after_the_grace_period_once_the_last_reader_leaves()
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store);
        var first = await TestStore.OpenAsync(store, writer.StreamId);
        var second = await TestStore.OpenAsync(store, writer.StreamId);

        await first.DisposeAsync();
        _time.Advance(Grace * 10);
        Assert.False(writer.Stopping.IsCancellationRequested, "a reader is still there");

        await second.DisposeAsync();
        await second.DisposeAsync();
        _time.Advance(Grace - Tick);
        Assert.False(writer.Stopping.IsCancellationRequested, "stopped before the grace period ended");

        _time.Advance(Tick);
        Assert.True(writer.Stopping.IsCancellationRequested, "still running after the grace period");
        Assert.Equal(StreamState.Running, (await store.GetStatusAsync(writer.StreamId, CancellationToken.None))?.State);
    }

    [Fact]
    public async Task A_reader_arriving_within_the_grace_period_keeps_the_stream_alive()
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store);
        var reader = await TestStore.OpenAsync(store, writer.StreamId);
        await reader.DisposeAsync();

        _time.Advance(Grace - Tick);
        var resumed = await TestStore.OpenAsync(store, writer.StreamId, afterSeq: 0);
        _time.Advance(Grace * 100);
        Assert.False(writer.Stopping.IsCancellationRequested);

        // Leaving again starts a fresh grace period.
        await resumed.DisposeAsync();
        _time.Advance(Grace - Tick);
        Assert.False(writer.Stopping.IsCancellationRequested);
        _time.Advance(Tick);
        Assert.True(writer.Stopping.IsCancellationRequested);
    }

    [Fact]
    public async Task A_reader_that_rejoins_and_leaves_again_gets_a_full_fresh_grace_period()
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store);
        await (await TestStore.OpenAsync(store, writer.StreamId)).DisposeAsync();

        // Rejoin halfway through the first grace period and leave at once: the first period's
        // deadline must no longer count, only the one that starts now.
        _time.Advance(Grace / 2);
        await (await TestStore.OpenAsync(store, writer.StreamId)).DisposeAsync();
        _time.Advance(Grace - Tick);
        Assert.False(writer.Stopping.IsCancellationRequested, "stopped at the first grace period's deadline");
        _time.Advance(Tick);
        Assert.True(writer.Stopping.IsCancellationRequested);
    }

    [Fact]
    public async Task The_stream_grace_period_overrides_the_store_default()
    {
        var grace = TimeSpan.FromMilliseconds(250);
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store, TestStore.Descriptor(resumeGrace: grace));
        await (await TestStore.OpenAsync(store, writer.StreamId)).DisposeAsync();

        _time.Advance(grace - Tick);
        Assert.False(writer.Stopping.IsCancellationRequested);
        _time.Advance(Tick);
        Assert.True(writer.Stopping.IsCancellationRequested);
    }

    [Fact]
    public async Task A_zero_grace_period_stops_the_writer_as_the_last_reader_leaves()
    {
        using var store = TestStore.Create(_time, o => o.ResumeGrace = TimeSpan.Zero);
        var writer = await TestStore.CreateStreamAsync(store);
        await (await TestStore.OpenAsync(store, writer.StreamId)).DisposeAsync();
        Assert.True(writer.Stopping.IsCancellationRequested);
    }

    [Fact]
    public async Task A_background_stream_never_stops_when_its_readers_leave()
    {
        using var store = TestStore.Create(_time, o => o.ResumeGrace = TimeSpan.Zero);
        var writer = await TestStore.CreateStreamAsync(store, TestStore.Descriptor(background: true));
        await (await TestStore.OpenAsync(store, writer.StreamId)).DisposeAsync();
        await (await TestStore.OpenAsync(store, writer.StreamId)).DisposeAsync();
        _time.Advance(TimeSpan.FromDays(1));
        Assert.False(writer.Stopping.IsCancellationRequested);

        Assert.True(await store.CancelAsync(writer.StreamId, CancellationToken.None));
        Assert.True(writer.Stopping.IsCancellationRequested);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_explicit_cancel_always_stops_the_writer_even_with_readers_attached(bool background)
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store, TestStore.Descriptor(background: background));
        await using var reader = await TestStore.OpenAsync(store, writer.StreamId);

        Assert.True(await store.CancelAsync(writer.StreamId, CancellationToken.None));
        Assert.True(writer.Stopping.IsCancellationRequested);

        // The writer answers the stop by ending the stream; the reader sees the end.
        writer.Complete(FinishReason.Cancelled, default, default);
        var events = await StreamTranscript.ReadToEndAsync(reader);
        Assert.Equal(FinishReason.Cancelled, events[^1].FinishReason);
        Assert.Equal(StreamState.Cancelled, (await store.GetStatusAsync(writer.StreamId, CancellationToken.None))?.State);
    }

    [Fact]
    public async Task Cancelling_an_unknown_stream_returns_false()
    {
        using var store = TestStore.Create(_time);
        Assert.False(await store.CancelAsync("chatcmpl-doesnotexist", CancellationToken.None));
    }

    [Fact]
    public async Task Readers_leaving_a_finished_stream_start_no_grace_timer()
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store);
        var reader = await TestStore.OpenAsync(store, writer.StreamId);
        writer.Complete(FinishReason.Stop, default, default);
        await reader.DisposeAsync();
        _time.Advance(Grace * 2);
        Assert.False(writer.Stopping.IsCancellationRequested);
        Assert.Equal(StreamState.Completed, (await store.GetStatusAsync(writer.StreamId, CancellationToken.None))?.State);
    }
}
