using System.Buffers;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Tokenflow.Core.Durable;
using Tokenflow.Core.Streams;
using Tokenflow.Core.Tests.Streams;

namespace Tokenflow.Core.Tests.Durable;

public sealed class GenerationReadSourceTests
{
    private static readonly TimeSpan Grace = new StreamStoreOptions().ResumeGrace;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider _time = new();

    private static async Task<GenerationReadSource> OpenAsync(IStreamStore store, string id, string? owner = null)
    {
        var source = await GenerationReadSource.TryOpenAsync(new StreamAccess(store, TimeProvider.System), id, owner, CancellationToken.None);
        Assert.NotNull(source);
        return source;
    }

    private static async Task<(DurableReadBatch Batch, JsonElement Messages)> ReadAsync(IDurableReadSource source, long? position)
    {
        var body = new ArrayBufferWriter<byte>();
        var batch = await source.ReadAsync(position, body, CancellationToken.None);
        Assert.Equal(DurableOutcome.Ok, batch.Outcome);
        return (batch, JsonDocument.Parse(body.WrittenMemory).RootElement.Clone());
    }

    [Fact]
    public async Task Events_are_json_messages_at_positions_equal_to_their_seq_and_the_terminal_one_closes_the_stream()
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store, TestStore.Descriptor(StreamIds.New("chatcmpl-")));
        TestStore.AppendText(writer, "In the ");
        TestStore.AppendText(writer, "beginning \"é\"");
        await using var source = await OpenAsync(store, writer.StreamId);

        var (first, messages) = await ReadAsync(source, 0);
        Assert.Equal("""[{"seq":1,"type":"delta","text":"In the "},{"seq":2,"type":"delta","text":"beginning \"é\""}]""", messages.GetRawText());
        Assert.Equal((0L, 2L, 2, true, false), (first.Start, first.Next, first.Count, first.UpToDate, first.Closed));
        Assert.Equal((writer.StreamId, "application/json", true), (first.StreamKey, first.ContentType, first.IsJson));

        writer.Complete(FinishReason.Length, new Usage(3, 2), default);
        var (last, rest) = await ReadAsync(source, first.Next);
        Assert.Equal(
            """[{"seq":3,"type":"usage","usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5},"finish_reason":"length"},{"seq":4,"type":"done","finish_reason":"length","usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}]""",
            rest.GetRawText());
        Assert.Equal((2L, 4L, 2, true), (last.Start, last.Next, last.Count, last.Closed));

        var info = await source.GetInfoAsync(CancellationToken.None);
        Assert.Equal((DurableOutcome.Ok, 4L, true, "application/json"), (info.Outcome, info.Tail, info.Closed, info.ContentType));
    }

    [Fact]
    public async Task A_read_from_the_tail_returns_nothing_and_a_read_at_the_end_of_an_ended_generation_is_closed()
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store, TestStore.Descriptor(StreamIds.New("chatcmpl-")));
        TestStore.AppendText(writer, "a");
        await using (var running = await OpenAsync(store, writer.StreamId))
        {
            var (tail, messages) = await ReadAsync(running, null);
            Assert.Equal("[]", messages.GetRawText());
            Assert.Equal((1L, 1L, 0, false), (tail.Start, tail.Next, tail.Count, tail.Closed));
        }

        writer.Fail(new StreamError("boom", "server_error", "backend_failed"), default);
        await using var ended = await OpenAsync(store, writer.StreamId);
        var (error, all) = await ReadAsync(ended, 1);
        Assert.Equal("""[{"seq":2,"type":"error","error":{"message":"boom","type":"server_error","code":"backend_failed"}}]""", all.GetRawText());
        Assert.True(error.Closed);

        await using var atEnd = await OpenAsync(store, writer.StreamId);
        var (end, none) = await ReadAsync(atEnd, 2);
        Assert.Equal((0, true, 2L), (end.Count, end.Closed, end.Next));
        Assert.Equal("[]", none.GetRawText());
    }

    [Fact]
    public async Task A_wait_returns_when_events_arrive_and_false_when_its_token_fires_first()
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store, TestStore.Descriptor(StreamIds.New("chatcmpl-")));
        await using var source = await OpenAsync(store, writer.StreamId);
        var (empty, _) = await ReadAsync(source, 0);
        Assert.Equal((0, false), (empty.Count, empty.Closed));

        using (var expired = new CancellationTokenSource())
        {
            var timedOut = source.WaitAsync(0, expired.Token);
            await expired.CancelAsync();
            Assert.False(await timedOut.AsTask().WaitAsync(Timeout));
        }

        var wait = source.WaitAsync(0, CancellationToken.None).AsTask();
        TestStore.AppendText(writer, "x");
        Assert.True(await wait.WaitAsync(Timeout));
        var (batch, messages) = await ReadAsync(source, 0);
        Assert.Equal((1, 1L), (batch.Count, batch.Next));
        Assert.Equal("x", messages[0].GetProperty("text").GetString());

        var end = source.WaitAsync(1, CancellationToken.None).AsTask();
        writer.Complete(FinishReason.Stop, default, default);
        Assert.True(await end.WaitAsync(Timeout));
        var (last, _) = await ReadAsync(source, 1);
        Assert.True(last.Closed);
    }

    [Fact]
    public async Task An_open_source_counts_as_a_reader_for_the_grace_rules_from_its_first_read_until_disposed()
    {
        using var store = TestStore.Create(_time);
        var writer = await TestStore.CreateStreamAsync(store, TestStore.Descriptor(StreamIds.New("chatcmpl-")));
        await (await TestStore.OpenAsync(store, writer.StreamId)).DisposeAsync();

        var source = await OpenAsync(store, writer.StreamId);
        await ReadAsync(source, 0);
        _time.Advance(Grace * 10);
        Assert.False(writer.Stopping.IsCancellationRequested, "the source's reader is open");

        // A read from another position moves the reader without a moment of no readers.
        await ReadAsync(source, null);
        _time.Advance(Grace * 10);
        Assert.False(writer.Stopping.IsCancellationRequested);

        await source.DisposeAsync();
        _time.Advance(Grace);
        Assert.True(writer.Stopping.IsCancellationRequested, "the generation outlived its last reader's grace period");
    }

    [Fact]
    public async Task Only_well_formed_ids_of_generations_the_owner_may_read_open()
    {
        using var store = TestStore.Create(_time);
        var mine = new StreamDescriptor { Id = StreamIds.New("chatcmpl-"), Model = "sim", Owner = "owner-a" };
        await TestStore.CreateStreamAsync(store, mine);

        Assert.NotNull(await GenerationReadSource.TryOpenAsync(new StreamAccess(store, TimeProvider.System), mine.Id, "owner-a", CancellationToken.None));
        Assert.Null(await GenerationReadSource.TryOpenAsync(new StreamAccess(store, TimeProvider.System), mine.Id, "owner-b", CancellationToken.None));
        Assert.Null(await GenerationReadSource.TryOpenAsync(new StreamAccess(store, TimeProvider.System), mine.Id, null, CancellationToken.None));
        Assert.Null(await GenerationReadSource.TryOpenAsync(new StreamAccess(store, TimeProvider.System), "agents/" + mine.Id, "owner-a", CancellationToken.None));
        Assert.Null(await GenerationReadSource.TryOpenAsync(new StreamAccess(store, TimeProvider.System), StreamIds.New("chatcmpl-"), "owner-a", CancellationToken.None));
    }
}
