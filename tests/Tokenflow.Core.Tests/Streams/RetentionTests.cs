using System.Text;
using Microsoft.Extensions.Time.Testing;
using Tokenflow.Core.Streams;

namespace Tokenflow.Core.Tests.Streams;

public sealed class RetentionTests
{
    private const int Deltas = 10_000;
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task Under_retention_none_a_reader_that_keeps_up_holds_the_log_to_a_few_blocks()
    {
        var ttl = await PeakBytesWithOneFastReaderAsync(StreamRetention.Ttl);
        var none = await PeakBytesWithOneFastReaderAsync(StreamRetention.None);

        // 10,000 deltas charge ~530 KB under ttl; under none at most a few 256-event blocks stay charged.
        Assert.True(ttl.Charged > Deltas * StreamLog.EventOverheadBytes, $"ttl charged {ttl.Charged}");
        Assert.True(none.Charged < 4 * 256 * (StreamLog.EventOverheadBytes + 8), $"none charged {none.Charged}");
        // Held under none: a few record blocks and two text segments at most, whatever the length.
        Assert.True(none.Held <= (3 * 256 * 24) + (2 * 16 * 1024), $"none held {none.Held} B");
        Assert.True(ttl.Held > Deltas * 24, $"ttl held {ttl.Held} B");
    }

    [Fact]
    public async Task Resume_below_what_retention_none_still_holds_is_refused_and_resume_after_it_reads_the_rest()
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store, Descriptor(StreamRetention.None));
        var reader = await TestStore.OpenAsync(store, writer.StreamId);
        var read = AppendFollowing(writer, reader, 0, 0, 1000, i => $"t{i} ");

        var firstHeld = ((StreamLog)writer).FirstHeld;
        Assert.True(firstHeld > 500, $"first held seq {firstHeld}");
        var (status, refused) = await store.OpenReaderAsync(writer.StreamId, 0, CancellationToken.None);
        Assert.Equal(StreamOpenStatus.Truncated, status);
        Assert.Null(refused);
        (status, refused) = await store.OpenReaderAsync(writer.StreamId, firstHeld - 2, CancellationToken.None);
        Assert.Equal(StreamOpenStatus.Truncated, status);

        // The reader drops; nothing it had not read is released, so it resumes from where it was.
        await reader.DisposeAsync();
        for (var i = 1000; i < 1300; i++)
        {
            TestStore.AppendText(writer, $"t{i} ");
        }

        writer.Complete(FinishReason.Stop, new Usage(1, 1300), default);
        var rest = await StreamTranscript.ReadToEndAsync(store, writer.StreamId, read);
        Assert.Equal(read + 1, rest[0].Seq);
        Assert.Equal(string.Concat(Enumerable.Range(1000, 300).Select(i => $"t{i} ")), StreamTranscript.DeltaText(rest));
    }

    [Fact]
    public async Task A_slow_reader_keeps_everything_it_has_not_read_and_releases_it_when_it_leaves()
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store, Descriptor(StreamRetention.None));
        var fast = await TestStore.OpenAsync(store, writer.StreamId);
        var slow = await TestStore.OpenAsync(store, writer.StreamId);
        AppendFollowing(writer, fast, 0, 0, 2000, _ => "x");

        var log = (StreamLog)writer;
        Assert.Equal(1, log.FirstHeld);
        var before = store.BytesInUse;
        await slow.DisposeAsync();
        Assert.True(log.FirstHeld > 1500, $"first held seq {log.FirstHeld}");
        Assert.True(store.BytesInUse < before / 4, $"{store.BytesInUse} B charged after the slow reader left, {before} B before");

        // The slow reader's copy of what it never read is gone for good.
        var (status, _) = await store.OpenReaderAsync(writer.StreamId, 0, CancellationToken.None);
        Assert.Equal(StreamOpenStatus.Truncated, status);
        await fast.DisposeAsync();
        writer.Complete(FinishReason.Stop, default, default);
    }

    [Fact]
    public async Task Event_text_a_reader_holds_stays_intact_after_its_segment_is_released()
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store, Descriptor(StreamRetention.None));
        var reader = await TestStore.OpenAsync(store, writer.StreamId);
        TestStore.AppendText(writer, "keep me");
        Assert.True(reader.TryRead(out var first));
        var held = first.Text;
        AppendFollowing(writer, reader, 1, 0, 3000, _ => "overwrite-me-if-you-reuse-segments ");

        Assert.True(((StreamLog)writer).FirstHeld > 1);
        Assert.Equal("keep me", Encoding.UTF8.GetString(held.Span));
        await reader.DisposeAsync();
        writer.Complete(FinishReason.Stop, default, default);
    }

    [Fact]
    public async Task Retention_ttl_keeps_every_event_for_resume()
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store, Descriptor(StreamRetention.Ttl));
        var reader = await TestStore.OpenAsync(store, writer.StreamId);
        AppendFollowing(writer, reader, 0, 0, 1000, _ => "y");

        await reader.DisposeAsync();
        writer.Complete(FinishReason.Stop, default, default);
        var events = await StreamTranscript.ReadToEndAsync(store, writer.StreamId);
        StreamTranscript.AssertWellFormed(events);
        Assert.Equal(1002, events.Count);
    }

    [Fact]
    public async Task The_store_default_retention_applies_when_the_descriptor_chooses_none()
    {
        using var store = TestStore.Create(_time, o => o.Retention = StreamRetention.None);
        var writer = await TestStore.CreateStreamAsync(store);
        Assert.Equal(StreamRetention.None, ((StreamLog)writer).Retention);
        writer.Complete(FinishReason.Stop, default, default);
    }

    private async Task<(long Charged, long Held)> PeakBytesWithOneFastReaderAsync(StreamRetention retention)
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store, Descriptor(retention));
        var log = (StreamLog)writer;
        var reader = await TestStore.OpenAsync(store, writer.StreamId);
        long charged = 0, held = 0, read = 0;
        for (var i = 0; i < Deltas; i++)
        {
            TestStore.AppendText(writer, "tok ");
            read = Drain(reader, read);
            charged = Math.Max(charged, store.BytesInUse);
            if (i % 100 == 0)
            {
                held = Math.Max(held, log.HeldBytes);
            }
        }

        writer.Complete(FinishReason.Stop, new Usage(1, Deltas), default);
        var rest = await StreamTranscript.ReadToEndAsync(reader);
        Assert.True(rest[^1].IsTerminal);
        Assert.Equal(Deltas + 2, rest[^1].Seq);
        await reader.DisposeAsync();
        return (charged, held);
    }

    /// <summary>Appends the texts of <paramref name="from"/> … <paramref name="from"/> + <paramref name="count"/> - 1, the reader reading everything after each append; returns the last seq read.</summary>
    private static long AppendFollowing(IStreamWriter writer, IStreamReader reader, long lastRead, int from, int count, Func<int, string> text)
    {
        for (var i = from; i < from + count; i++)
        {
            TestStore.AppendText(writer, text(i));
            lastRead = Drain(reader, lastRead);
        }

        return lastRead;
    }

    private static long Drain(IStreamReader reader, long last)
    {
        while (reader.TryRead(out var e))
        {
            Assert.Equal(last + 1, e.Seq);
            last = e.Seq;
        }

        return last;
    }

    private static StreamDescriptor Descriptor(StreamRetention retention) => new()
    {
        Id = StreamIds.New("test-"),
        Model = "sim",
        Created = 1_700_000_000,
        Retention = retention,
    };
}
