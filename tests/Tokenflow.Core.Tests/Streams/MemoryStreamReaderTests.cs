using Microsoft.Extensions.Time.Testing;
using Tokenflow.Core.Streams;

namespace Tokenflow.Core.Tests.Streams;

public sealed class MemoryStreamReaderTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task Readers_from_every_position_of_a_finished_stream_see_exactly_the_events_after_it()
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store);
        for (var i = 1; i <= 5; i++)
        {
            TestStore.AppendText(writer, $"d{i}");
        }

        writer.Complete(FinishReason.Length, new Usage(3, 5), default);
        const int Last = 7;

        // Including positions at and past the terminal event: those readers must end, not hang.
        for (var after = 0; after <= Last + 2; after++)
        {
            var events = await StreamTranscript.ReadToEndAsync(store, writer.StreamId, after);
            Assert.Equal(Enumerable.Range(after + 1, Math.Max(0, Last - after)).Select(i => (long)i), events.Select(e => e.Seq));
        }
    }

    [Fact]
    public async Task Readers_from_every_position_replay_then_follow_live_events_in_order_each_once()
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store);
        TestStore.AppendText(writer, "a");
        TestStore.AppendText(writer, "b");
        TestStore.AppendText(writer, "c");

        var readers = new List<(long After, Task<List<ReadEvent>> Events)>();
        for (var after = 0; after <= 3; after++)
        {
            var reader = await TestStore.OpenAsync(store, writer.StreamId, after);
            readers.Add((after, Task.Run(async () =>
            {
                await using (reader)
                {
                    return await StreamTranscript.ReadToEndAsync(reader);
                }
            })));
        }

        TestStore.AppendText(writer, "d");
        TestStore.AppendText(writer, "e");
        writer.Complete(FinishReason.Stop, new Usage(1, 5), default);

        foreach (var (after, task) in readers)
        {
            var events = await task.WaitAsync(StreamTranscript.Timeout);
            Assert.Equal(Enumerable.Range((int)after + 1, 7 - (int)after).Select(i => (long)i), events.Select(e => e.Seq));
            Assert.Equal("abcde"[(int)after..], StreamTranscript.DeltaText(events));
        }
    }

    [Fact]
    public async Task Many_concurrent_readers_see_identical_sequences_while_the_writer_appends()
    {
        const int Events = 2000;
        const int Readers = 16;
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store);

        var fromStart = new List<Task<List<ReadEvent>>>();
        for (var i = 0; i < Readers; i++)
        {
            var reader = await TestStore.OpenAsync(store, writer.StreamId);
            fromStart.Add(Task.Run(async () =>
            {
                await using (reader)
                {
                    return await StreamTranscript.ReadToEndAsync(reader);
                }
            }));
        }

        // Readers joining mid-stream from wherever the writer has got to.
        var joined = new List<(long After, Task<List<ReadEvent>> Events)>();
        var writing = Task.Run(async () =>
        {
            for (var i = 1; i <= Events; i++)
            {
                TestStore.AppendText(writer, $"e{i};");
                if (i % 400 == 0)
                {
                    var after = i - 7;
                    var reader = await TestStore.OpenAsync(store, writer.StreamId, after);
                    joined.Add((after, Task.Run(async () =>
                    {
                        await using (reader)
                        {
                            return await StreamTranscript.ReadToEndAsync(reader);
                        }
                    })));
                }

                if (i % 64 == 0)
                {
                    await Task.Yield();
                }
            }

            writer.Complete(FinishReason.Length, new Usage(0, Events), default);
        });
        await writing.WaitAsync(StreamTranscript.Timeout);

        var expectedText = string.Concat(Enumerable.Range(1, Events).Select(i => $"e{i};"));
        foreach (var task in fromStart)
        {
            var events = await task.WaitAsync(StreamTranscript.Timeout);
            StreamTranscript.AssertWellFormed(events);
            Assert.Equal(Events + 2, events.Count);
            Assert.Equal(expectedText, StreamTranscript.DeltaText(events));
        }

        Assert.Equal(Events / 400, joined.Count);
        foreach (var (after, task) in joined)
        {
            var events = await task.WaitAsync(StreamTranscript.Timeout);
            Assert.Equal(Enumerable.Range((int)after + 1, Events + 2 - (int)after).Select(i => (long)i), events.Select(e => e.Seq));
            Assert.Equal(string.Concat(Enumerable.Range((int)after + 1, Events - (int)after).Select(i => $"e{i};")), StreamTranscript.DeltaText(events));
        }
    }

    [Fact]
    public async Task A_reader_waiting_on_an_empty_live_stream_wakes_when_an_event_is_appended()
    {
        // The store's clock never moves: only the append can complete the wait.
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store);
        await using var reader = await TestStore.OpenAsync(store, writer.StreamId);

        Assert.False(reader.TryRead(out _));
        var wait = reader.WaitToReadAsync(CancellationToken.None).AsTask();
        Assert.False(wait.IsCompleted);

        TestStore.AppendText(writer, "hello");

        Assert.True(await wait.WaitAsync(StreamTranscript.Timeout));
        Assert.True(reader.TryRead(out var e));
        Assert.Equal(1, e.Seq);
        Assert.Equal("hello", ReadEvent.From(e).Text);
        Assert.False(reader.TryRead(out _));

        // And again: a second wait on the same reader (the value-task source is reused).
        var second = reader.WaitToReadAsync(CancellationToken.None).AsTask();
        Assert.False(second.IsCompleted);
        writer.Complete(FinishReason.Stop, default, default);
        Assert.True(await second.WaitAsync(StreamTranscript.Timeout));
        Assert.True(reader.TryRead(out e));
        Assert.Equal(StreamEventKind.Usage, e.Kind);
        Assert.True(reader.TryRead(out e));
        Assert.Equal(StreamEventKind.Done, e.Kind);
        Assert.False(await reader.WaitToReadAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Cancelling_the_token_ends_a_pending_wait_and_the_reader_stays_usable()
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store);
        await using var reader = await TestStore.OpenAsync(store, writer.StreamId);

        using var cts = new CancellationTokenSource();
        var wait = reader.WaitToReadAsync(cts.Token).AsTask();
        Assert.False(wait.IsCompleted);
        await cts.CancelAsync();
        var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.WaitAsync(StreamTranscript.Timeout));
        Assert.Equal(cts.Token, ex.CancellationToken);

        // An already-cancelled token fails at once.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reader.WaitToReadAsync(cts.Token).AsTask());

        // A fresh token waits again and is woken by the next append.
        using var fresh = new CancellationTokenSource();
        var next = reader.WaitToReadAsync(fresh.Token).AsTask();
        Assert.False(next.IsCompleted);
        TestStore.AppendText(writer, "x");
        Assert.True(await next.WaitAsync(StreamTranscript.Timeout));
        Assert.True(reader.TryRead(out var e));
        Assert.Equal(1, e.Seq);
    }

    [Fact]
    public async Task Interrupt_wakes_a_pending_wait_with_nothing_to_read()
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store);
        await using var reader = await TestStore.OpenAsync(store, writer.StreamId);

        var wait = reader.WaitToReadAsync(CancellationToken.None).AsTask();
        Assert.False(wait.IsCompleted);
        reader.Interrupt();
        Assert.True(await wait.WaitAsync(StreamTranscript.Timeout));
        Assert.False(reader.TryRead(out _));
    }

    [Fact]
    public async Task A_reader_that_read_the_terminal_event_reports_the_end()
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store);
        await using var reader = await TestStore.OpenAsync(store, writer.StreamId);
        writer.Fail(new StreamError("boom", "server_error", "backend_failed"), new Usage(1, 2));

        var events = await StreamTranscript.ReadToEndAsync(reader);
        var only = Assert.Single(events);
        Assert.Equal(StreamEventKind.Error, only.Kind);
        Assert.Equal("backend_failed", only.Error?.Code);
        Assert.False(await reader.WaitToReadAsync(CancellationToken.None));
        Assert.False(reader.TryRead(out _));
    }
}
