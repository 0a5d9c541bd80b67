using System.Text;
using Microsoft.Extensions.Time.Testing;
using Tokenflow.Core.Durable;

namespace Tokenflow.Testing.Contracts;

/// <summary>
/// The contract of <see cref="IDurableStreamStore"/>, run against every store (memory, Redis, Redis Cluster): each
/// store's test class derives from this one and says how to start a fresh, empty store. Time is a
/// <see cref="FakeTimeProvider"/>, so TTLs and expiry are exact and instant. Linked into Core.Tests and Redis.Tests.
/// </summary>
public abstract class DurableStreamStoreContract : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly List<IAsyncDisposable> _owned = [];

    /// <summary>The clock every store of the test runs on; starts at a fixed instant.</summary>
    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));

    /// <summary>Starts an empty store (no streams, nothing charged) with these limits on <see cref="Time"/>; the returned owner stops it.</summary>
    protected abstract Task<(IDurableStreamStore Store, IAsyncDisposable Owner)> StartStoreAsync(DurableStreamOptions options, TimeProvider time);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }
    }

    protected async Task<IDurableStreamStore> StoreAsync(Action<DurableStreamOptions>? configure = null)
    {
        var options = new DurableStreamOptions();
        configure?.Invoke(options);
        var (store, owner) = await StartStoreAsync(options, Time);
        _owned.Add(owner);
        return store;
    }

    protected static string NewPath(string name = "s") => $"contract/{Guid.NewGuid():N}/{name}";

    private static ReadOnlyMemory<byte> Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private static async Task<DurableStreamResult> CreateAsync(IDurableStreamStore store, string path, string? contentType = "text/plain", string body = "", Func<DurableCreateRequest, DurableCreateRequest>? with = null, string? owner = "alice")
    {
        var request = new DurableCreateRequest(path, owner) { ContentType = contentType, Body = Bytes(body) };
        return await store.CreateAsync(with?.Invoke(request) ?? request, CancellationToken.None);
    }

    private static async Task<DurableStreamResult> AppendAsync(IDurableStreamStore store, string path, string body, string contentType = "text/plain", Func<DurableAppendRequest, DurableAppendRequest>? with = null, string? owner = "alice")
    {
        var request = new DurableAppendRequest(path, owner) { ContentType = contentType, Body = Bytes(body) };
        return await store.AppendAsync(with?.Invoke(request) ?? request, CancellationToken.None);
    }

    private static Task<DurableReadResult> ReadAsync(IDurableStreamStore store, string path, long? position = 0, string? owner = "alice")
        => store.ReadAsync(path, owner, position, CancellationToken.None).AsTask();

    private static async Task<string> ReadAllAsync(IDurableStreamStore store, string path, long position = 0)
    {
        var read = await ReadAsync(store, path, position);
        Assert.Equal(DurableOutcome.Ok, read.Outcome);
        return string.Concat(read.Chunks.Select(c => Encoding.UTF8.GetString(c.Span)));
    }

    private static async Task<string[]> MessagesAsync(IDurableStreamStore store, string path, long position = 0)
    {
        var read = await ReadAsync(store, path, position);
        Assert.Equal(DurableOutcome.Ok, read.Outcome);
        Assert.True(read.IsJson);
        return read.Chunks.Select(c => Encoding.UTF8.GetString(c.Span)).ToArray();
    }

    [Fact]
    public async Task Create_is_idempotent_and_a_different_configuration_conflicts()
    {
        var store = await StoreAsync();
        var path = NewPath();
        var created = await CreateAsync(store, path, body: "hello");
        Assert.Equal(DurableOutcome.Created, created.Outcome);
        Assert.Equal(5, created.Tail);
        Assert.Equal("text/plain", created.ContentType);

        Assert.Equal(DurableOutcome.Exists, (await CreateAsync(store, path)).Outcome);
        Assert.Equal(DurableOutcome.Conflict, (await CreateAsync(store, path, "application/json")).Outcome);
        Assert.Equal(DurableOutcome.Conflict, (await CreateAsync(store, path, with: r => r with { TtlSeconds = 60 })).Outcome);
        Assert.Equal(DurableOutcome.Conflict, (await CreateAsync(store, path, with: r => r with { Close = true })).Outcome);
        // Another owner cannot take the path, nor see the stream.
        Assert.Equal(DurableOutcome.Conflict, (await CreateAsync(store, path, owner: "bob")).Outcome);
        Assert.Equal(DurableOutcome.NotFound, (await store.GetInfoAsync(path, "bob", CancellationToken.None)).Outcome);
        Assert.Equal(DurableOutcome.NotFound, (await ReadAsync(store, path, owner: "bob")).Outcome);
        Assert.Equal(DurableOutcome.NotFound, (await AppendAsync(store, path, "x", owner: "bob")).Outcome);
        Assert.Equal(DurableOutcome.NotFound, (await store.DeleteAsync(path, "bob", CancellationToken.None)).Outcome);

        var info = await store.GetInfoAsync(path, "alice", CancellationToken.None);
        Assert.Equal((DurableOutcome.Ok, 5L, false), (info.Outcome, info.Tail, info.Closed));
    }

    [Fact]
    public async Task An_unknown_path_is_not_found_everywhere()
    {
        var store = await StoreAsync();
        var path = NewPath();
        Assert.Equal(DurableOutcome.NotFound, (await store.GetInfoAsync(path, "alice", CancellationToken.None)).Outcome);
        Assert.Equal(DurableOutcome.NotFound, (await ReadAsync(store, path)).Outcome);
        Assert.Equal(DurableOutcome.NotFound, (await AppendAsync(store, path, "x")).Outcome);
        Assert.Equal(DurableOutcome.NotFound, (await store.DeleteAsync(path, "alice", CancellationToken.None)).Outcome);
        Assert.Equal(DurableOutcome.NotFound, (await CreateAsync(store, NewPath("fork"), with: r => r with { ForkedFrom = path })).Outcome);
        using var timeout = new CancellationTokenSource(Timeout);
        Assert.True(await store.WaitAsync(path, 0, timeout.Token));
    }

    [Fact]
    public async Task Paths_with_braces_are_streams_like_any_other()
    {
        // On Redis the path is the keys' hash tag: braces in it must not split a stream's keys over slots.
        var store = await StoreAsync();
        var path = "}" + NewPath("{odd}");
        var fork = "{" + NewPath("}fork{");
        Assert.Equal(DurableOutcome.Created, (await CreateAsync(store, path, body: "ab")).Outcome);
        Assert.Equal(DurableOutcome.Ok, (await AppendAsync(store, path, "c")).Outcome);
        Assert.Equal(DurableOutcome.Created, (await CreateAsync(store, fork, null, "d", r => r with { ForkedFrom = path })).Outcome);
        Assert.Equal("abc", await ReadAllAsync(store, path));
        Assert.Equal("abcd", await ReadAllAsync(store, fork));
        Assert.Equal(DurableOutcome.Ok, (await store.DeleteAsync(path, "alice", CancellationToken.None)).Outcome);
        Assert.Equal(DurableOutcome.Ok, (await store.DeleteAsync(fork, "alice", CancellationToken.None)).Outcome);
        Assert.Equal(DurableOutcome.NotFound, (await ReadAsync(store, path)).Outcome);
    }

    [Fact]
    public async Task Byte_appends_advance_the_tail_and_reads_start_at_any_offset()
    {
        var store = await StoreAsync();
        var path = NewPath();
        await CreateAsync(store, path);
        Assert.Equal(3, (await AppendAsync(store, path, "abc")).Tail);
        Assert.Equal(7, (await AppendAsync(store, path, "défg".Replace("é", "e", StringComparison.Ordinal))).Tail);
        Assert.Equal(10, (await AppendAsync(store, path, "hij")).Tail);

        Assert.Equal("abcdefghij", await ReadAllAsync(store, path));
        // Offsets fall inside appends too: a read starts at any byte.
        Assert.Equal("efghij", await ReadAllAsync(store, path, 4));
        var atTail = await ReadAsync(store, path, 10);
        Assert.Equal((DurableOutcome.Ok, 10L, 10L, true), (atTail.Outcome, atTail.Start, atTail.Next, atTail.UpToDate));
        Assert.Empty(atTail.Chunks);
        var fromNow = await ReadAsync(store, path, null);
        Assert.Equal(10, fromNow.Start);
        Assert.Equal(DurableOutcome.Invalid, (await ReadAsync(store, path, 11)).Outcome);

        Assert.Equal(DurableOutcome.Conflict, (await AppendAsync(store, path, "x", "application/json")).Outcome);
        Assert.Equal(DurableOutcome.Invalid, (await AppendAsync(store, path, string.Empty)).Outcome);
    }

    [Fact]
    public async Task A_read_stops_at_the_read_budget_and_the_next_one_goes_on()
    {
        var store = await StoreAsync(o => o.MaxReadBytes = 1024);
        var path = NewPath();
        await CreateAsync(store, path);
        var body = string.Concat(Enumerable.Range(0, 300).Select(i => $"{i:D3},"));
        await AppendAsync(store, path, body[..700]);
        await AppendAsync(store, path, body[700..]);

        var first = await ReadAsync(store, path, 0);
        Assert.False(first.UpToDate);
        Assert.True(first.Next <= 1024 + 700);
        var rest = await ReadAllAsync(store, path, first.Next);
        Assert.Equal(body, string.Concat(first.Chunks.Select(c => Encoding.UTF8.GetString(c.Span))) + rest);
    }

    [Fact]
    public async Task Json_streams_hold_messages_and_arrays_are_flattened_one_level()
    {
        var store = await StoreAsync();
        var path = NewPath();
        var created = await CreateAsync(store, path, "application/json", "[]");
        Assert.Equal((DurableOutcome.Created, 0L), (created.Outcome, created.Tail));
        Assert.Equal(1, (await AppendAsync(store, path, """{"a":1}""", "application/json")).Tail);
        Assert.Equal(3, (await AppendAsync(store, path, """[{"b":2},[3]]""", "application/json; charset=utf-8")).Tail);

        Assert.Equal(["""{"a":1}""", """{"b":2}""", "[3]"], await MessagesAsync(store, path));
        Assert.Equal(["[3]"], await MessagesAsync(store, path, 2));
        Assert.Equal(DurableOutcome.Invalid, (await AppendAsync(store, path, "{nope", "application/json")).Outcome);
        Assert.Equal(DurableOutcome.Invalid, (await AppendAsync(store, path, "[]", "application/json")).Outcome);
        Assert.Equal(3, (await store.GetInfoAsync(path, "alice", CancellationToken.None)).Tail);
    }

    [Fact]
    public async Task Wait_returns_when_data_arrives_when_the_stream_closes_and_false_when_cancelled()
    {
        var store = await StoreAsync();
        var path = NewPath();
        await CreateAsync(store, path, body: "ab");

        using (var timeout = new CancellationTokenSource(Timeout))
        {
            Assert.True(await store.WaitAsync(path, 1, timeout.Token));
            var waiting = store.WaitAsync(path, 2, timeout.Token).AsTask();
            await AppendAsync(store, path, "c");
            Assert.True(await waiting);
            Assert.False(timeout.IsCancellationRequested);
        }

        using (var timeout = new CancellationTokenSource(Timeout))
        {
            var waiting = store.WaitAsync(path, 3, timeout.Token).AsTask();
            await AppendAsync(store, path, string.Empty, with: r => r with { Close = true });
            Assert.True(await waiting);
            Assert.False(timeout.IsCancellationRequested);
        }

        var other = NewPath();
        await CreateAsync(store, other);
        using var cancelled = new CancellationTokenSource();
        var idle = store.WaitAsync(other, 0, cancelled.Token).AsTask();
        await cancelled.CancelAsync();
        Assert.False(await idle.WaitAsync(Timeout));
    }

    [Fact]
    public async Task A_closed_stream_refuses_appends_and_reads_report_the_end()
    {
        var store = await StoreAsync();
        var path = NewPath();
        await CreateAsync(store, path, body: "abc");
        var closed = await AppendAsync(store, path, "d", with: r => r with { Close = true });
        Assert.Equal((DurableOutcome.Ok, 4L, true), (closed.Outcome, closed.Tail, closed.Closed));
        Assert.Equal(DurableOutcome.Closed, (await AppendAsync(store, path, "e")).Outcome);
        // Closing again is fine.
        Assert.Equal(DurableOutcome.Ok, (await AppendAsync(store, path, string.Empty, with: r => r with { Close = true })).Outcome);

        Assert.True((await ReadAsync(store, path, 0)).Closed);
        Assert.True((await ReadAsync(store, path, 4)).Closed);

        var createdClosed = NewPath();
        Assert.True((await CreateAsync(store, createdClosed, body: "x", with: r => r with { Close = true })).Closed);
        Assert.Equal(DurableOutcome.Closed, (await AppendAsync(store, createdClosed, "y")).Outcome);
    }

    [Fact]
    public async Task Idempotent_producers_are_fenced_by_epoch_and_sequenced()
    {
        var store = await StoreAsync();
        var path = NewPath();
        await CreateAsync(store, path);
        Func<DurableAppendRequest, DurableAppendRequest> As(long epoch, long seq, bool close = false) => r => r with { ProducerId = "p1", ProducerEpoch = epoch, ProducerSeq = seq, Close = close };

        Assert.Equal(DurableOutcome.SequenceGap, (await AppendAsync(store, path, "a", with: As(0, 1))).Outcome);
        var first = await AppendAsync(store, path, "a", with: As(0, 0));
        Assert.Equal((DurableOutcome.Accepted, 0L, 0L), (first.Outcome, first.ProducerEpoch, first.ProducerSeq));
        Assert.Equal(DurableOutcome.Accepted, (await AppendAsync(store, path, "b", with: As(0, 1))).Outcome);
        var retry = await AppendAsync(store, path, "b", with: As(0, 1));
        Assert.Equal((DurableOutcome.Duplicate, 1L), (retry.Outcome, retry.ProducerSeq));
        var gap = await AppendAsync(store, path, "d", with: As(0, 3));
        Assert.Equal((DurableOutcome.SequenceGap, 2L, 3L), (gap.Outcome, gap.ExpectedSeq, gap.ReceivedSeq));

        Assert.Equal(DurableOutcome.Invalid, (await AppendAsync(store, path, "x", with: As(1, 1))).Outcome);
        Assert.Equal(DurableOutcome.Accepted, (await AppendAsync(store, path, "c", with: As(1, 0))).Outcome);
        var stale = await AppendAsync(store, path, "z", with: As(0, 2));
        Assert.Equal((DurableOutcome.StaleEpoch, 1L), (stale.Outcome, stale.ProducerEpoch));

        Assert.Equal(DurableOutcome.Accepted, (await AppendAsync(store, path, "!", with: As(1, 1, close: true))).Outcome);
        // A retry of the closing append is a duplicate, not a refusal.
        Assert.Equal(DurableOutcome.Duplicate, (await AppendAsync(store, path, "!", with: As(1, 1, close: true))).Outcome);
        Assert.Equal("abc!", await ReadAllAsync(store, path));
    }

    [Fact]
    public async Task Stream_seq_must_increase_bytewise()
    {
        var store = await StoreAsync();
        var path = NewPath();
        await CreateAsync(store, path);
        Assert.Equal(DurableOutcome.Ok, (await AppendAsync(store, path, "a", with: r => r with { StreamSeq = "0009" })).Outcome);
        Assert.Equal(DurableOutcome.Conflict, (await AppendAsync(store, path, "b", with: r => r with { StreamSeq = "0009" })).Outcome);
        Assert.Equal(DurableOutcome.Conflict, (await AppendAsync(store, path, "b", with: r => r with { StreamSeq = "0008" })).Outcome);
        Assert.Equal(DurableOutcome.Ok, (await AppendAsync(store, path, "b", with: r => r with { StreamSeq = "000a" })).Outcome);
        Assert.Equal("ab", await ReadAllAsync(store, path));
    }

    [Fact]
    public async Task A_fork_inherits_up_to_its_offset_and_then_goes_its_own_way()
    {
        var store = await StoreAsync();
        var source = NewPath("source");
        await CreateAsync(store, source, body: "abc");
        await AppendAsync(store, source, "defg");

        var fork = NewPath("fork");
        var created = await CreateAsync(store, fork, null, with: r => r with { ForkedFrom = source, ForkOffset = 3, ForkSubOffset = 2 });
        Assert.Equal((DurableOutcome.Created, 5L, "text/plain"), (created.Outcome, created.Tail, created.ContentType));
        Assert.Equal(DurableOutcome.Exists, (await CreateAsync(store, fork, null, with: r => r with { ForkedFrom = source, ForkOffset = 3, ForkSubOffset = 2 })).Outcome);
        Assert.Equal(DurableOutcome.Conflict, (await CreateAsync(store, fork, null, with: r => r with { ForkedFrom = source, ForkOffset = 2 })).Outcome);
        Assert.Equal("abcde", await ReadAllAsync(store, fork));

        await AppendAsync(store, fork, "XY");
        await AppendAsync(store, source, "h");
        Assert.Equal("abcdeXY", await ReadAllAsync(store, fork));
        Assert.Equal("abcdefgh", await ReadAllAsync(store, source));

        // A fork of a fork, at its tail (no offset), with initial data.
        var grandchild = NewPath("grandchild");
        Assert.Equal(DurableOutcome.Created, (await CreateAsync(store, grandchild, null, "!", r => r with { ForkedFrom = fork })).Outcome);
        Assert.Equal("abcdeXY!", await ReadAllAsync(store, grandchild));

        Assert.Equal(DurableOutcome.Invalid, (await CreateAsync(store, NewPath("far"), null, with: r => r with { ForkedFrom = source, ForkOffset = 9 })).Outcome);
        Assert.Equal(DurableOutcome.Conflict, (await CreateAsync(store, NewPath("json"), "application/json", with: r => r with { ForkedFrom = source })).Outcome);
        Assert.Equal(DurableOutcome.NotFound, (await CreateAsync(store, NewPath("theirs"), null, owner: "bob", with: r => r with { ForkedFrom = source })).Outcome);
    }

    [Fact]
    public async Task A_json_fork_inherits_whole_messages()
    {
        var store = await StoreAsync();
        var source = NewPath("source");
        await CreateAsync(store, source, "application/json", """[1,2,3]""");
        var fork = NewPath("fork");
        var created = await CreateAsync(store, fork, null, "[4]", r => r with { ForkedFrom = source, ForkOffset = 1, ForkSubOffset = 1 });
        Assert.Equal((DurableOutcome.Created, 3L, "application/json"), (created.Outcome, created.Tail, created.ContentType));
        Assert.Equal(["1", "2", "4"], await MessagesAsync(store, fork));
    }

    [Fact]
    public async Task A_deleted_source_is_gone_while_forks_hold_it_and_goes_with_the_last_fork()
    {
        var store = await StoreAsync();
        var source = NewPath("source");
        await CreateAsync(store, source, body: "abc");
        var fork = NewPath("fork");
        var grandchild = NewPath("grandchild");
        await CreateAsync(store, fork, null, with: r => r with { ForkedFrom = source });
        await CreateAsync(store, grandchild, null, with: r => r with { ForkedFrom = fork });

        Assert.Equal(DurableOutcome.Ok, (await store.DeleteAsync(source, "alice", CancellationToken.None)).Outcome);
        Assert.Equal(DurableOutcome.Gone, (await ReadAsync(store, source)).Outcome);
        Assert.Equal(DurableOutcome.Gone, (await AppendAsync(store, source, "x")).Outcome);
        Assert.Equal(DurableOutcome.Gone, (await store.DeleteAsync(source, "alice", CancellationToken.None)).Outcome);
        Assert.Equal(DurableOutcome.Conflict, (await CreateAsync(store, source)).Outcome);
        Assert.Equal(DurableOutcome.Conflict, (await CreateAsync(store, NewPath("late"), null, with: r => r with { ForkedFrom = source })).Outcome);
        Assert.Equal("abc", await ReadAllAsync(store, fork));

        Assert.Equal(DurableOutcome.Ok, (await store.DeleteAsync(fork, "alice", CancellationToken.None)).Outcome);
        Assert.Equal(DurableOutcome.Gone, (await ReadAsync(store, fork)).Outcome);
        Assert.Equal(DurableOutcome.Gone, (await ReadAsync(store, source)).Outcome);

        // The last fork down the chain goes: every deleted ancestor goes with it.
        Assert.Equal(DurableOutcome.Ok, (await store.DeleteAsync(grandchild, "alice", CancellationToken.None)).Outcome);
        Assert.Equal(DurableOutcome.NotFound, (await ReadAsync(store, grandchild)).Outcome);
        Assert.Equal(DurableOutcome.NotFound, (await ReadAsync(store, fork)).Outcome);
        Assert.Equal(DurableOutcome.NotFound, (await ReadAsync(store, source)).Outcome);
        Assert.Equal(DurableOutcome.Created, (await CreateAsync(store, source, body: "new")).Outcome);
        Assert.Equal("new", await ReadAllAsync(store, source));
    }

    [Fact]
    public async Task A_sliding_ttl_expires_without_reads_and_each_read_renews_it()
    {
        var store = await StoreAsync();
        var path = NewPath();
        var created = await CreateAsync(store, path, body: "x", with: r => r with { TtlSeconds = 10 });
        Assert.Equal(10, created.TtlSeconds);

        Time.Advance(TimeSpan.FromSeconds(8));
        Assert.Equal(DurableOutcome.Ok, (await ReadAsync(store, path)).Outcome);
        Time.Advance(TimeSpan.FromSeconds(8));
        // Metadata does not renew it.
        Assert.Equal(DurableOutcome.Ok, (await store.GetInfoAsync(path, "alice", CancellationToken.None)).Outcome);
        Time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(DurableOutcome.NotFound, (await ReadAsync(store, path)).Outcome);
        Assert.Equal(DurableOutcome.Created, (await CreateAsync(store, path)).Outcome);
    }

    [Fact]
    public async Task An_absolute_expiry_holds_however_often_the_stream_is_read()
    {
        var store = await StoreAsync();
        var path = NewPath();
        var at = Time.GetUtcNow().AddSeconds(30);
        Assert.Equal(at, (await CreateAsync(store, path, with: r => r with { ExpiresAt = at })).ExpiresAt);
        Time.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal(at, (await ReadAsync(store, path)).ExpiresAt);
        Time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(DurableOutcome.NotFound, (await store.GetInfoAsync(path, "alice", CancellationToken.None)).Outcome);

        // A fork inherits its source's expiry unless it has its own.
        var source = NewPath("source");
        await CreateAsync(store, source, with: r => r with { TtlSeconds = 5 });
        var fork = NewPath("fork");
        Assert.Equal(5, (await CreateAsync(store, fork, null, with: r => r with { ForkedFrom = source })).TtlSeconds);
    }

    [Fact]
    public async Task The_stream_budget_refuses_extra_streams_until_one_is_deleted_or_expires()
    {
        var store = await StoreAsync(o => o.MaxStreams = 3);
        var paths = Enumerable.Range(0, 4).Select(i => NewPath($"s{i}")).ToArray();
        Assert.Equal(DurableOutcome.Created, (await CreateAsync(store, paths[0])).Outcome);
        Assert.Equal(DurableOutcome.Created, (await CreateAsync(store, paths[1])).Outcome);
        Assert.Equal(DurableOutcome.Created, (await CreateAsync(store, paths[2], with: r => r with { TtlSeconds = 5 })).Outcome);
        Assert.Equal(DurableOutcome.Full, (await CreateAsync(store, paths[3])).Outcome);
        // A full store still confirms a stream that exists.
        Assert.Equal(DurableOutcome.Exists, (await CreateAsync(store, paths[0])).Outcome);
        Assert.Equal(DurableOutcome.Full, (await CreateAsync(store, paths[3], with: r => r with { ForkedFrom = paths[0] })).Outcome);

        Assert.Equal(DurableOutcome.Ok, (await store.DeleteAsync(paths[0], "alice", CancellationToken.None)).Outcome);
        Assert.Equal(DurableOutcome.Created, (await CreateAsync(store, paths[3])).Outcome);
        Assert.Equal(DurableOutcome.Full, (await CreateAsync(store, paths[0])).Outcome);

        // Nobody touched the expiring stream again: making room finds it.
        Time.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal(DurableOutcome.Created, (await CreateAsync(store, paths[0])).Outcome);
        Assert.Equal(DurableOutcome.NotFound, (await ReadAsync(store, paths[2])).Outcome);
    }

    [Fact]
    public async Task The_byte_budget_counts_every_stream_and_frees_up_on_delete_and_expiry()
    {
        var store = await StoreAsync(o => o.MaxBytes = 2048);
        var a = NewPath("a");
        var b = NewPath("b");
        await CreateAsync(store, a, body: new string('a', 1000));
        await CreateAsync(store, b, with: r => r with { TtlSeconds = 5 });
        Assert.Equal(DurableOutcome.Ok, (await AppendAsync(store, b, new string('b', 1000))).Outcome);
        Assert.Equal(DurableOutcome.Full, (await AppendAsync(store, a, new string('a', 100))).Outcome);
        Assert.Equal(DurableOutcome.Full, (await CreateAsync(store, NewPath("c"), body: new string('c', 100))).Outcome);
        // Refused appends charge nothing: what is left still fits.
        Assert.Equal(DurableOutcome.Ok, (await AppendAsync(store, a, new string('a', 48))).Outcome);
        // A failure other than the budget answers as such.
        Assert.Equal(DurableOutcome.NotFound, (await AppendAsync(store, NewPath("none"), new string('x', 100))).Outcome);

        // A fork copies what it inherits, and is charged for it.
        Assert.Equal(DurableOutcome.Full, (await CreateAsync(store, NewPath("fork"), null, with: r => r with { ForkedFrom = a })).Outcome);

        // Nobody touched the expired stream again: making room finds it.
        Time.Advance(TimeSpan.FromSeconds(6));
        var c = NewPath("c");
        Assert.Equal(DurableOutcome.Created, (await CreateAsync(store, c, body: new string('c', 900))).Outcome);
        var fork = NewPath("fork");
        Assert.Equal(DurableOutcome.Created, (await CreateAsync(store, fork, null, with: r => r with { ForkedFrom = a, ForkOffset = 100 })).Outcome);
        Assert.Equal(DurableOutcome.Full, (await AppendAsync(store, a, "a")).Outcome);
        Assert.Equal(DurableOutcome.Ok, (await store.DeleteAsync(fork, "alice", CancellationToken.None)).Outcome);
        Assert.Equal(DurableOutcome.Ok, (await store.DeleteAsync(a, "alice", CancellationToken.None)).Outcome);
        Assert.Equal(DurableOutcome.Ok, (await store.DeleteAsync(c, "alice", CancellationToken.None)).Outcome);
        Assert.Equal(DurableOutcome.Created, (await CreateAsync(store, NewPath("big"), body: new string('z', 2048))).Outcome);
    }
}
