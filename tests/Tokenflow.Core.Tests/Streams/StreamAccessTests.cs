using Microsoft.Extensions.Time.Testing;
using Tokenflow.Core.Streams;

namespace Tokenflow.Core.Tests.Streams;

public sealed class StreamAccessTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task Another_owners_stream_is_not_found_for_every_operation()
    {
        using var store = TestStore.Create(_time);
        var access = new StreamAccess(store, _time);
        var writer = await TestStore.CreateStreamAsync(store, Owned("alice"));
        TestStore.AppendText(writer, "secret");

        foreach (var caller in new[] { "bob", null })
        {
            Assert.Null(await access.FindAsync(writer.StreamId, caller, CancellationToken.None));
            Assert.Null(await access.GetStatusAsync(writer.StreamId, caller, CancellationToken.None));
            var opening = await access.OpenAsync(writer.StreamId, 0, caller, CancellationToken.None);
            Assert.Equal(StreamOpenStatus.NotFound, opening.Status);
            Assert.Null(opening.Reader);
            Assert.Null(await access.CancelAsync(writer.StreamId, caller, TimeSpan.FromSeconds(5), CancellationToken.None));
        }

        Assert.False(writer.Stopping.IsCancellationRequested);
        var own = await access.OpenAsync(writer.StreamId, 0, "alice", CancellationToken.None);
        Assert.Equal(StreamOpenStatus.Opened, own.Status);
        Assert.Equal("alice", own.Descriptor?.Owner);
        await own.Reader!.DisposeAsync();
        writer.Complete(FinishReason.Stop, default, default);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not-a-stream-id")]
    [InlineData(null)]
    public async Task Malformed_ids_are_not_found_without_asking_the_store(string? id)
    {
        using var store = TestStore.Create(_time);
        var access = new StreamAccess(store, _time);
        Assert.Null(await access.FindAsync(id, null, CancellationToken.None));
        Assert.Equal(StreamOpenStatus.NotFound, (await access.OpenAsync(id, 0, null, CancellationToken.None)).Status);
    }

    [Fact]
    public async Task Cancel_waits_for_the_generation_to_end_and_returns_the_final_status()
    {
        using var store = TestStore.Create(_time);
        var access = new StreamAccess(store, _time);
        var writer = await TestStore.CreateStreamAsync(store, Owned(null));
        TestStore.AppendText(writer, "a");
        // The "generation": ends its stream as cancelled once asked to stop, a moment later.
        writer.Stopping.Register(() => Task.Run(() => writer.Complete(FinishReason.Cancelled, new Usage(1, 1), default)));

        var status = await access.CancelAsync(writer.StreamId, null, TimeSpan.FromSeconds(30), CancellationToken.None).AsTask().WaitAsync(StreamTranscript.Timeout);

        Assert.Equal(StreamState.Cancelled, status?.State);
        Assert.Equal(3, status?.LastSeq);
    }

    [Fact]
    public async Task Cancel_of_a_writer_that_never_stops_returns_the_running_status_after_the_wait()
    {
        using var store = TestStore.Create(_time);
        var access = new StreamAccess(store, TimeProvider.System);
        var writer = await TestStore.CreateStreamAsync(store, Owned(null));

        var cancel = access.CancelAsync(writer.StreamId, null, TimeSpan.FromMilliseconds(200), CancellationToken.None).AsTask();
        var status = await cancel.WaitAsync(StreamTranscript.Timeout);
        Assert.True(writer.Stopping.IsCancellationRequested);
        Assert.Equal(StreamState.Running, status?.State);
        writer.Complete(FinishReason.Cancelled, default, default);
    }

    private static StreamDescriptor Owned(string? owner) => new()
    {
        Id = StreamIds.New("chatcmpl-"),
        Model = "sim",
        Owner = owner,
    };
}
