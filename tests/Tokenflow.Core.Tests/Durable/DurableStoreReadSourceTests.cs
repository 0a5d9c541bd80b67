using System.Buffers;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Tokenflow.Core.Durable;

namespace Tokenflow.Core.Tests.Durable;

public sealed class DurableStoreReadSourceTests
{
    private readonly MemoryDurableStreamStore _store = new(Options.Create(new DurableStreamOptions()), new FakeTimeProvider());

    private async Task CreateAsync(string path, string contentType, string body)
    {
        var created = await _store.CreateAsync(new DurableCreateRequest(path, null) { ContentType = contentType, Body = Encoding.UTF8.GetBytes(body) }, CancellationToken.None);
        Assert.Equal(DurableOutcome.Created, created.Outcome);
    }

    private static async Task<(DurableReadBatch Batch, string Body)> ReadAsync(IDurableReadSource source, long? position)
    {
        var body = new ArrayBufferWriter<byte>();
        var batch = await source.ReadAsync(position, body, CancellationToken.None);
        return (batch, Encoding.UTF8.GetString(body.WrittenSpan));
    }

    [Fact]
    public async Task A_json_stream_reads_as_one_array_of_its_messages()
    {
        await CreateAsync("plan", "application/json", """[{"step":1},{"step":2}]""");
        await using var source = new DurableStoreReadSource(_store, "plan", null);

        var (batch, body) = await ReadAsync(source, 0);
        Assert.Equal("""[{"step":1},{"step":2}]""", body);
        Assert.Equal((DurableOutcome.Ok, 2, 0L, 2L, true, true), (batch.Outcome, batch.Count, batch.Start, batch.Next, batch.IsJson, batch.UpToDate));

        var (tail, empty) = await ReadAsync(source, null);
        Assert.Equal("[]", empty);
        Assert.Equal((0, 2L), (tail.Count, tail.Next));
        Assert.Equal(batch.StreamKey, tail.StreamKey);
    }

    [Fact]
    public async Task A_byte_stream_reads_as_its_bytes_end_to_end_and_a_wait_wakes_on_append()
    {
        await CreateAsync("log", "text/plain", "ab");
        await using var source = new DurableStoreReadSource(_store, "log", null);
        var wait = source.WaitAsync(2, CancellationToken.None).AsTask();
        Assert.False(wait.IsCompleted);
        await _store.AppendAsync(new DurableAppendRequest("log", null) { ContentType = "text/plain", Body = "cd"u8.ToArray() }, CancellationToken.None);
        Assert.True(await wait.WaitAsync(TimeSpan.FromSeconds(10)));

        var (batch, body) = await ReadAsync(source, 0);
        Assert.Equal("abcd", body);
        Assert.Equal(("text/plain", false, 4L), (batch.ContentType, batch.IsJson, batch.Next));
    }

    [Fact]
    public async Task Another_owners_stream_is_not_found_and_writes_no_body()
    {
        await CreateAsync("mine", "text/plain", "secret");
        await using var source = new DurableStoreReadSource(_store, "mine", "someone-else");
        var (batch, body) = await ReadAsync(source, 0);
        Assert.Equal(DurableOutcome.NotFound, batch.Outcome);
        Assert.Equal(string.Empty, body);
    }
}
