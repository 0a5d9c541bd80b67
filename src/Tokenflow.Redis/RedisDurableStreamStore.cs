using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Tokenflow.Core.Durable;

namespace Tokenflow.Redis;

/// <summary>
/// The Durable Streams store on Redis, shared by every process that points at the same Redis. Each stream's keys
/// carry its own hash tag (<c>{path}</c>), so on Redis Cluster streams spread over the shards, and every operation on
/// a stream is one Lua script on its shard (<see cref="DurableScripts"/>): create, append, producer fencing and expiry
/// are atomic across processes. What spans streams is done in steps, each atomic on its own key:
/// <list type="bullet">
/// <item>The global budgets (stream count, bytes) live in one counters hash: a write reserves first (all or nothing),
/// then runs its stream's script, then refunds what the script did not use; a script that retires a stream returns
/// what the stream was charged, and the caller gives it back. (On a single server, where no key is out of a
/// script's reach, an append's script charges its bytes itself: one round trip, see <see cref="BudgetInScript"/>.)</item>
/// <item>A fork copies what it inherits: a script on the source's shard checks the source, records the fork's hold
/// on it and returns the entries; the fork's create script writes them. A fork that goes away releases its hold in
/// a script on the source's shard, which retires a deleted source with its last fork (and so on up the chain).</item>
/// <item>Expiry deadlines sit in one sorted set, written outside the stream's script: before a create (only ever
/// earlier, so a process that dies after the create still leaves the stream to the sweep) and after a read or append
/// moves a sliding TTL. The sweep re-checks each due stream in its own script, so a deadline that is early or stale
/// costs a look, never a wrong expiry.</item>
/// </list>
/// A process that dies between two steps leaves the counters charged for what it had reserved or retired (or a
/// deleted source kept for a fork that is gone); nothing is ever freed twice. Live readers wait on a pub/sub channel
/// per stream (one subscription per stream per process, shared by all its waiters): an append publishes the new
/// tail, so woken waiters need no Redis call, and waiters that then read from the same offset share one read. They
/// re-check every <see cref="RedisStreamStoreOptions.PollInterval"/>, since pub/sub is at most once.
/// </summary>
internal sealed partial class RedisDurableStreamStore : IDurableStreamStore, IHostedService, IDisposable
{
    private const int SweepBatch = 256;
    private static readonly TimeSpan WatchIdleTimeout = TimeSpan.FromSeconds(30);
    private static readonly RedisValue[] StateFields = ["t", "c", "s"];
    private static readonly RedisValue[] NoFork = [string.Empty, string.Empty, string.Empty, string.Empty, string.Empty, 0, 0];
    private readonly RedisStreamStore _redis;
    private readonly DurableStreamOptions _options;
    private readonly ILogger _logger;
    private readonly RedisKey[] _counters;
    private readonly RedisKey[] _deadlines;
    private readonly RedisKey[] _budget;
    private readonly string _prefix;
    private readonly Dictionary<string, Watch> _watches = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Path, string? Owner, long? Position), SharedRead> _reads = [];
    private readonly Lock _gate = new();
    private Task? _sweep;
    private readonly CancellationTokenSource _stop = new();
    private Task? _sweeper;
    private int _topology;

    public RedisDurableStreamStore(RedisStreamStore redis, IOptions<DurableStreamOptions> options, ILogger<RedisDurableStreamStore> logger)
    {
        _redis = redis;
        _options = options.Value;
        _logger = logger;
        _prefix = $"{redis.Prefix}:d:";
        var global = $"{redis.Prefix}:{{durable}}";
        _counters = [global + ":g"];
        _deadlines = [global + ":x"];
        _budget = [_counters[0], _deadlines[0]];
    }

    private TimeProvider Time => _redis.TimeProvider;

    /// <summary>
    /// True on a single Redis server, where a stream's script may touch the global counters too (nothing hashes keys
    /// to slots there): an append then charges its bytes in its own script, one round trip instead of two. Unknown until
    /// every server of the connection is up; until then, and on a cluster, appends reserve first.
    /// </summary>
    private bool BudgetInScript
    {
        get
        {
            var topology = Volatile.Read(ref _topology);
            if (topology == 0)
            {
                var servers = _redis.Connection.GetServers();
                topology = servers.Any(s => s.ServerType != ServerType.Standalone) ? 2
                    : servers.Length > 0 && servers.All(s => s.IsConnected) ? 1 : 0;
                Volatile.Write(ref _topology, topology);
            }

            return topology == 1;
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _sweeper = Task.Run(() => SweepLoopAsync(_stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_sweeper is not null)
        {
            await _sweeper.ConfigureAwait(false);
        }
    }

    public void Dispose() => _stop.Dispose();

    public async ValueTask<DurableStreamResult> CreateAsync(DurableCreateRequest request, CancellationToken cancellationToken)
    {
        var path = request.Path;
        var source = request.ForkedFrom;
        var now = Now();
        var contentType = request.ContentType;
        var ttl = request.TtlSeconds;
        var expiresMs = request.ExpiresAt?.ToUnixTimeMilliseconds();
        var fork = NoFork;
        RedisValue[] inherited = [];
        long size = 0;
        if (source is not null)
        {
            // An existing stream at the path answers first (idempotent PUT), whatever became of the source.
            var existing = await EvaluateAsync(DurableScripts.Create, path, [.. CreateHead(request, now, null, 0, probe: true), .. NoFork], []).ConfigureAwait(false);
            if ((int)existing[0] != DurableScripts.Absent)
            {
                return ToResult(await SettleAsync(path, existing).ConfigureAwait(false));
            }

            await SettleAsync(path, existing).ConfigureAwait(false);
            RedisValue[] forkArgs =
            [
                path,
                request.Owner ?? string.Empty,
                now,
                request.ContentType is null ? string.Empty : DurableMessages.MediaType(request.ContentType),
                request.ForkOffset?.ToString(CultureInfo.InvariantCulture) ?? string.Empty,
                request.ForkSubOffset,
            ];
            var from = await SettleAsync(source, await EvaluateAsync(DurableScripts.ForkSource, source, forkArgs, []).ConfigureAwait(false)).ConfigureAwait(false);
            if ((DurableOutcome)(int)from[0] != DurableOutcome.Ok)
            {
                return ToResult(from);
            }

            var x = DurableScripts.Extra;
            var count = (int)from[x + 6];
            fork = [(RedisValue)from[x], (RedisValue)from[x + 1], (RedisValue)from[x + 2], (RedisValue)from[x + 3], (RedisValue)from[x + 4], (RedisValue)from[x + 5], count];
            inherited = new RedisValue[2 * count];
            for (var i = 0; i < inherited.Length; i++)
            {
                inherited[i] = (RedisValue)from[x + 7 + i];
                if (i >= count)
                {
                    size += ((byte[]?)inherited[i])?.Length ?? 0;
                }
            }

            contentType ??= Text(from[x]);
            if (ttl is null && expiresMs is null)
            {
                ttl = Long(from[x + 2]);
                expiresMs = Long(from[x + 4]);
            }
        }

        var messages = new List<ReadOnlyMemory<byte>>();
        DurableMessages.Split(request.Body, DurableMessages.IsJsonType(contentType ?? "application/octet-stream"), allowEmptyArray: true, messages, out var error);
        foreach (var message in messages)
        {
            size += message.Length;
        }

        RedisValue[] head = [.. CreateHead(request, now, error, NewInstanceKey(), probe: false), .. fork, .. inherited];
        if (error is null)
        {
            long? deadline = ttl is { } seconds ? now + (seconds * 1000) : null;
            if (expiresMs is { } at && (deadline is null || at < deadline))
            {
                deadline = at;
            }

            var refused = await ReserveAsync(1, size, path, deadline).ConfigureAwait(false);
            if (refused != 0)
            {
                if (source is not null)
                {
                    await ReleaseAsync(source, path).ConfigureAwait(false);
                }
                else
                {
                    var existing = await EvaluateAsync(DurableScripts.Create, path, [.. CreateHead(request, now, null, 0, probe: true), .. NoFork], []).ConfigureAwait(false);
                    if ((int)existing[0] != DurableScripts.Absent)
                    {
                        return ToResult(await SettleAsync(path, existing).ConfigureAwait(false));
                    }

                    await SettleAsync(path, existing).ConfigureAwait(false);
                }

                return DurableStreamResult.Fail(DurableOutcome.Full, refused == 1 ? "The stream store holds its maximum number of streams." : "The stream store is full.");
            }
        }

        var result = await EvaluateAsync(DurableScripts.Create, path, head, messages).ConfigureAwait(false);
        if ((DurableOutcome)(int)result[0] != DurableOutcome.Created)
        {
            if (error is null)
            {
                await ChargeAsync(-1, -size).ConfigureAwait(false);
            }

            // The hold stays when the stream already at the path is a fork of the same source.
            if (source is not null && (result.Length <= DurableScripts.Extra ? null : Text(result[DurableScripts.Extra])) != source)
            {
                await ReleaseAsync(source, path).ConfigureAwait(false);
            }
        }

        return ToResult(await SettleAsync(path, result).ConfigureAwait(false));
    }

    private static RedisValue[] CreateHead(DurableCreateRequest request, long now, string? error, long key, bool probe) =>
    [
        request.Path,
        request.Owner ?? string.Empty,
        request.ContentType ?? string.Empty,
        request.ContentType is null ? string.Empty : DurableMessages.MediaType(request.ContentType),
        request.TtlSeconds?.ToString(CultureInfo.InvariantCulture) ?? string.Empty,
        request.ExpiresAt?.UtcTicks.ToString(CultureInfo.InvariantCulture) ?? string.Empty,
        request.ExpiresAt?.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) ?? string.Empty,
        request.Close ? "1" : "0",
        request.ForkedFrom ?? string.Empty,
        request.ForkOffset?.ToString(CultureInfo.InvariantCulture) ?? string.Empty,
        request.ForkSubOffset,
        now,
        error ?? string.Empty,
        key,
        probe ? "1" : "0",
    ];

    public async ValueTask<DurableStreamResult> AppendAsync(DurableAppendRequest request, CancellationToken cancellationToken)
    {
        var messages = new List<ReadOnlyMemory<byte>>();
        string? error = null;
        if (!request.Body.IsEmpty)
        {
            DurableMessages.Split(request.Body, DurableMessages.IsJsonType(request.ContentType), allowEmptyArray: false, messages, out error);
        }

        long size = 0;
        foreach (var message in messages)
        {
            size += message.Length;
        }

        var charged = error is null && size > 0;
        if (charged)
        {
            await _redis.ConnectionAsync().ConfigureAwait(false);
        }

        var inScript = charged && BudgetInScript;
        RedisValue[] head =
        [
            request.Path,
            request.Owner ?? string.Empty,
            DurableMessages.MediaType(request.ContentType),
            request.Body.IsEmpty ? "0" : "1",
            request.Close ? "1" : "0",
            request.StreamSeq ?? string.Empty,
            request.ProducerId ?? string.Empty,
            request.ProducerEpoch,
            request.ProducerSeq,
            Now(),
            error ?? string.Empty,
            "0",
            inScript ? _counters[0].ToString() : string.Empty,
            _options.MaxBytes,
        ];
        if (charged && !inScript && await ReserveAsync(0, size, request.Path, null).ConfigureAwait(false) != 0)
        {
            // Full, unless the append would fail anyway: then that failure is the answer.
            head[11] = "1";
            var probe = await SettleAsync(request.Path, await EvaluateAsync(DurableScripts.Append, request.Path, head, []).ConfigureAwait(false)).ConfigureAwait(false);
            return (int)probe[0] == DurableScripts.Absent ? DurableStreamResult.Fail(DurableOutcome.Full, "The stream store is full.") : ToResult(probe);
        }

        // Waiters, here too, learn of it by pub/sub: one ordered source, so a tail announced before a delete
        // never arrives after it.
        var result = await EvaluateAsync(DurableScripts.Append, request.Path, head, messages).ConfigureAwait(false);
        if (inScript && (DurableOutcome)(int)result[0] == DurableOutcome.Full)
        {
            // Expired streams may hold the bytes: sweep them, then try once more.
            await SettleAsync(request.Path, result).ConfigureAwait(false);
            await SweepAsync(rounds: 1).ConfigureAwait(false);
            result = await EvaluateAsync(DurableScripts.Append, request.Path, head, messages).ConfigureAwait(false);
        }
        else if (charged && !inScript && (DurableOutcome)(int)result[0] is not (DurableOutcome.Ok or DurableOutcome.Accepted))
        {
            await ChargeAsync(0, -size).ConfigureAwait(false);
        }

        return ToResult(await SettleAsync(request.Path, result).ConfigureAwait(false));
    }

    public async ValueTask<DurableStreamResult> GetInfoAsync(string path, string? owner, CancellationToken cancellationToken)
        => ToResult(await SettleAsync(path, await EvaluateAsync(DurableScripts.Info, path, [path, owner ?? string.Empty, Now()], []).ConfigureAwait(false)).ConfigureAwait(false));

    public ValueTask<DurableReadResult> ReadAsync(string path, string? owner, long? position, CancellationToken cancellationToken)
    {
        // Readers of one stream at the same offset (tailers woken by the same append) share one script call,
        // unless the stream changed since that call started.
        var key = (path, owner, position);
        SharedRead? shared;
        var mine = false;
        lock (_gate)
        {
            var version = _watches.GetValueOrDefault(path)?.Version ?? -1;
            if (version < 0 || !_reads.TryGetValue(key, out shared) || shared.Version != version)
            {
                shared = new SharedRead(version);
                _reads[key] = shared;
                mine = true;
            }
        }

        if (mine)
        {
            _ = RunSharedAsync(key, shared);
        }

        return new ValueTask<DurableReadResult>(shared.Result.Task.WaitAsync(cancellationToken));
    }

    private async Task RunSharedAsync((string Path, string? Owner, long? Position) key, SharedRead shared)
    {
        try
        {
            shared.Result.TrySetResult(await ReadCoreAsync(key.Path, key.Owner, key.Position).ConfigureAwait(false));
        }
        catch (Exception ex)
        {
            shared.Result.TrySetException(ex);
        }
        finally
        {
            lock (_gate)
            {
                if (_reads.TryGetValue(key, out var current) && current == shared)
                {
                    _reads.Remove(key);
                }
            }
        }
    }

    private async Task<DurableReadResult> ReadCoreAsync(string path, string? owner, long? position)
    {
        RedisValue[] args = [path, owner ?? string.Empty, position?.ToString(CultureInfo.InvariantCulture) ?? string.Empty, Now(), _options.MaxReadBytes];
        var values = await SettleAsync(path, await EvaluateAsync(DurableScripts.Read, path, args, []).ConfigureAwait(false)).ConfigureAwait(false);
        var outcome = (DurableOutcome)(int)values[0];
        if (outcome != DurableOutcome.Ok)
        {
            return new DurableReadResult(outcome) { Message = Text(values[10]) };
        }

        var x = DurableScripts.Extra;
        var tail = Long(values[1]) ?? 0;
        var closed = (string?)values[2] == "1";
        var next = Long(values[x + 3]) ?? 0;
        var chunks = new ReadOnlyMemory<byte>[values.Length - (x + 4)];
        for (var i = 0; i < chunks.Length; i++)
        {
            chunks[i] = (byte[]?)values[x + 4 + i] ?? [];
        }

        return new DurableReadResult(DurableOutcome.Ok)
        {
            StreamKey = Long(values[x + 1]) ?? 0,
            ContentType = (string?)values[3] ?? "application/octet-stream",
            IsJson = (string?)values[x] == "1",
            Chunks = chunks,
            Start = Long(values[x + 2]) ?? 0,
            Next = next,
            UpToDate = next == tail,
            Closed = closed && next == tail,
            TtlSeconds = Long(values[4]),
            ExpiresAt = Expiry(values[5]),
        };
    }

    public async ValueTask<bool> WaitAsync(string path, long position, CancellationToken cancellationToken)
    {
        var watch = Acquire(path);
        try
        {
            await watch.Subscribed.WaitAsync(cancellationToken).ConfigureAwait(false);
            var meta = MetaKey(path);
            var look = true;
            var checks = -1L;
            while (true)
            {
                var changed = watch.Changed;
                if (watch.KnownTail > position)
                {
                    return true;
                }

                if (look || watch.Checks != checks)
                {
                    checks = watch.Checks;
                    var state = await _redis.Guard(() => _redis.Database.HashGetAsync(meta, StateFields)).ConfigureAwait(false);
                    if (state[0].IsNull || state[1] == "1" || state[2] == "1" || (long)state[0] > position)
                    {
                        return true;
                    }
                }

                try
                {
                    await changed.WaitAsync(_redis.Options.PollInterval, Time, cancellationToken).ConfigureAwait(false);
                    look = false;
                }
                catch (TimeoutException)
                {
                    // Pub/sub is at most once: look again.
                    look = true;
                }
                catch (OperationCanceledException)
                {
                    return false;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        finally
        {
            Release(watch);
        }
    }

    public async ValueTask<DurableStreamResult> DeleteAsync(string path, string? owner, CancellationToken cancellationToken)
        => ToResult(await SettleAsync(path, await EvaluateAsync(DurableScripts.Delete, path, [path, owner ?? string.Empty, Now()], []).ConfigureAwait(false)).ConfigureAwait(false));

    /// <summary>
    /// The base name of a stream's keys: the path is its hash tag, behind a fixed character so the tag is never empty
    /// (a path starting with <c>}</c> would otherwise hash each key by its whole name, on different slots).
    /// </summary>
    private string Base(string path) => $"{_prefix}{{@{path}}}";

    private RedisKey MetaKey(string path) => Base(path) + ":m";

    private long Now() => Time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>A stream instance's id (part of its ETags): random, so a stream re-created at a path never repeats one.</summary>
    private static long NewInstanceKey() => Random.Shared.NextInt64(1, 1L << 53);

    private Task<RedisResult[]> EvaluateAsync(string script, string path, RedisValue[] head, List<ReadOnlyMemory<byte>> messages)
    {
        var args = head;
        if (messages.Count > 0)
        {
            args = new RedisValue[head.Length + messages.Count];
            head.CopyTo(args, 0);
            for (var i = 0; i < messages.Count; i++)
            {
                args[head.Length + i] = messages[i];
            }
        }

        RedisKey[] keys = [Base(path)];
        return _redis.Guard(async () => (RedisResult[])(await _redis.Database.ScriptEvaluateAsync(script, keys, args).ConfigureAwait(false))!);
    }

    /// <summary>
    /// Applies to the global keys what a stream's script reports: a moved deadline (fire and forget: a lost one
    /// only makes the sweep look early), the charges of a stream it retired, and the release of that stream's
    /// hold on its source. Returns the script's result.
    /// </summary>
    private async Task<RedisResult[]> SettleAsync(string path, RedisResult[] values)
    {
        if (Long(values[14]) is { } deadline)
        {
            try
            {
                _ = _redis.Database.SortedSetAddAsync(_deadlines[0], path, deadline, CommandFlags.FireAndForget);
            }
            catch (Exception ex) when (RedisStreamStore.IsRedisFailure(ex))
            {
                // The stream's script ran; the sweep finds the stream by its older, earlier deadline and re-checks it.
                LogDeadlineLost(_logger, path, ex.Message);
            }
        }

        var streams = Long(values[11]) ?? 0;
        var bytes = Long(values[12]) ?? 0;
        var source = Text(values[13]);
        if (streams != 0 || bytes != 0)
        {
            await ChargeAsync(-streams, -bytes).ConfigureAwait(false);
        }

        if (source is not null)
        {
            await ReleaseAsync(source, path).ConfigureAwait(false);
        }

        return values;
    }

    /// <summary>Drops <paramref name="fork"/>'s hold on <paramref name="source"/>, retiring a deleted source with its last fork.</summary>
    private async Task ReleaseAsync(string source, string fork)
        => await SettleAsync(source, await EvaluateAsync(DurableScripts.Release, source, [fork], []).ConfigureAwait(false)).ConfigureAwait(false);

    /// <summary>Takes from the global budget; on a refusal sweeps once and tries again. Returns 0, 1 (no stream left) or 2 (no bytes left).</summary>
    private async Task<long> ReserveAsync(long streams, long bytes, string path, long? deadline)
    {
        RedisValue[] args = [streams, bytes, _options.MaxStreams, _options.MaxBytes, path, deadline?.ToString(CultureInfo.InvariantCulture) ?? string.Empty];
        var refused = (long)await _redis.Guard(() => _redis.Database.ScriptEvaluateAsync(DurableScripts.Reserve, _budget, args)).ConfigureAwait(false);
        if (refused == 0)
        {
            return 0;
        }

        await SweepAsync(rounds: 1).ConfigureAwait(false);
        return (long)await _redis.Guard(() => _redis.Database.ScriptEvaluateAsync(DurableScripts.Reserve, _budget, args)).ConfigureAwait(false);
    }

    /// <summary>Adds (positive) or gives back (negative) streams and bytes to the global counters.</summary>
    private Task ChargeAsync(long streams, long bytes)
        => _redis.Guard(() => _redis.Database.ScriptEvaluateAsync(DurableScripts.Charge, _counters, [-streams, -bytes]));

    private static DurableStreamResult ToResult(RedisResult[] values) => new((DurableOutcome)(int)values[0])
    {
        Tail = Long(values[1]) ?? 0,
        Closed = (string?)values[2] == "1",
        ContentType = Text(values[3]),
        TtlSeconds = Long(values[4]),
        ExpiresAt = Expiry(values[5]),
        ProducerEpoch = Long(values[6]),
        ProducerSeq = Long(values[7]),
        ExpectedSeq = Long(values[8]),
        ReceivedSeq = Long(values[9]),
        Message = Text(values[10]),
    };

    private static string? Text(RedisResult value)
    {
        var text = (string?)value;
        return string.IsNullOrEmpty(text) ? null : text;
    }

    private static long? Long(RedisResult value)
    {
        var raw = (RedisValue)value;
        return raw.IsNullOrEmpty ? null : (long)raw;
    }

    private static DateTimeOffset? Expiry(RedisResult value) => Long(value) is { } ticks ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;

    private Watch Acquire(string path)
    {
        lock (_gate)
        {
            // A watch whose subscription failed (Redis away) is replaced, so the next waiter subscribes again.
            if (!_watches.TryGetValue(path, out var watch) || watch.Subscribed.IsFaulted || watch.Subscribed.IsCanceled)
            {
                watch = new Watch(RedisChannel.Literal(Base(path) + ":n"));
                watch.Subscribed = SubscribeAsync(watch);
                _watches[path] = watch;
            }

            watch.Refs++;
            return watch;
        }
    }

    private Task SubscribeAsync(Watch watch) => _redis.Guard(async () =>
    {
        await _redis.Connection.GetSubscriber().SubscribeAsync(watch.Channel, watch.Handler).ConfigureAwait(false);
        return true;
    });

    /// <summary>
    /// Drops a waiter. The watch stays subscribed while idle (tailers leave it between every wait and read;
    /// unsubscribing and subscribing again each time would race in the client); the sweep drops it after
    /// <see cref="WatchIdleTimeout"/>.
    /// </summary>
    private void Release(Watch watch)
    {
        lock (_gate)
        {
            if (--watch.Refs == 0)
            {
                watch.IdleSince = Time.GetTimestamp();
            }
        }
    }

    private void DropIdleWatches()
    {
        List<Watch>? idle = null;
        lock (_gate)
        {
            foreach (var (path, watch) in _watches)
            {
                if (watch.Refs == 0 && Time.GetElapsedTime(watch.IdleSince) >= WatchIdleTimeout)
                {
                    (idle ??= []).Add(watch);
                    _watches.Remove(path);
                }
            }
        }

        foreach (var watch in idle ?? [])
        {
            if (watch.Subscribed.IsCompletedSuccessfully)
            {
                _ = _redis.Connection.GetSubscriber().UnsubscribeAsync(watch.Channel, watch.Handler, CommandFlags.FireAndForget);
            }
        }
    }

    private async Task SweepLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.SweepInterval, Time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                DropIdleWatches();
                try
                {
                    await SweepAsync(rounds: 100).ConfigureAwait(false);
                }
                catch (Core.Streams.StreamStoreUnavailableException ex)
                {
                    LogSweepFailed(_logger, ex.InnerException?.Message ?? ex.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>
    /// Retires expired streams. One sweep runs at a time in this process: a caller that finds one running waits
    /// for it to end — its budget refunds included — and then sweeps itself. Otherwise a create refused for lack
    /// of room could find nothing to retire while the periodic sweep is still refunding the stream it took.
    /// </summary>
    private async Task SweepAsync(int rounds)
    {
        Task? running;
        lock (_gate)
        {
            running = _sweep is { IsCompleted: false } sweep ? sweep : null;
        }

        if (running is not null)
        {
            try
            {
                await running.ConfigureAwait(false);
            }
            catch (Core.Streams.StreamStoreUnavailableException)
            {
                // Its caller reports it; this sweep tries for itself below.
            }
        }

        // Started outside the lock: the sweep's own continuations must not run under it.
        var candidate = new Task<Task>(() => SweepRoundsAsync(rounds));
        Task mine;
        lock (_gate)
        {
            var busy = _sweep is { IsCompleted: false };
            mine = busy ? _sweep! : (_sweep = candidate.Unwrap());
            if (busy)
            {
                candidate = null;
            }
        }

        candidate?.Start(TaskScheduler.Default);
        await mine.ConfigureAwait(false);
    }

    /// <summary>Looks at the streams whose deadline passed, <see cref="SweepBatch"/> per round, retiring those that expired.</summary>
    private async Task SweepRoundsAsync(int rounds)
    {
        for (var round = 0; round < rounds; round++)
        {
            var now = Now();
            var due = await _redis.Guard(() => _redis.Database.SortedSetRangeByScoreWithScoresAsync(_deadlines[0], double.NegativeInfinity, now, take: SweepBatch)).ConfigureAwait(false);
            await Task.WhenAll(due.Select(entry => ExpireAsync(entry.Element.ToString(), entry.Score, now))).ConfigureAwait(false);
            if (due.Length < SweepBatch)
            {
                return;
            }
        }
    }

    private async Task ExpireAsync(string path, double seen, long now)
    {
        var values = await SettleAsync(path, await EvaluateAsync(DurableScripts.Expire, path, [now], []).ConfigureAwait(false)).ConfigureAwait(false);
        RedisValue[] args = [path, seen, (RedisValue)values[DurableScripts.Extra]];
        await _redis.Guard(() => _redis.Database.ScriptEvaluateAsync(DurableScripts.Deadline, _deadlines, args)).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not record the expiry deadline of durable stream {Path}: {Reason}")]
    private static partial void LogDeadlineLost(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not sweep expired durable streams: {Reason}")]
    private static partial void LogSweepFailed(ILogger logger, string reason);

    /// <summary>This process' subscription to one stream's channel, shared by its waiters.</summary>
    private sealed class Watch
    {
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _knownTail = -1;
        private long _checks;
        private long _version;

        public Watch(RedisChannel channel)
        {
            Channel = channel;
            Handler = (_, message) => Signal(message.TryParse(out long tail) ? tail : null);
        }

        public RedisChannel Channel { get; }

        public Action<RedisChannel, RedisValue> Handler { get; }

        public Task Subscribed { get; set; } = Task.CompletedTask;

        /// <summary>Waiters using it; guarded by the store's lock.</summary>
        public int Refs { get; set; }

        /// <summary>When <see cref="Refs"/> last fell to 0 (a timestamp); guarded by the store's lock.</summary>
        public long IdleSince { get; set; }

        public Task Changed => Volatile.Read(ref _changed).Task;

        /// <summary>The highest tail announced since this watch started or the stream last closed or went away (-1: none).</summary>
        public long KnownTail => Interlocked.Read(ref _knownTail);

        /// <summary>Counts announcements without a tail (closure, deletion): waiters look at the stream in Redis.</summary>
        public long Checks => Interlocked.Read(ref _checks);

        /// <summary>Counts every announcement: a read started at an older version may miss the latest change.</summary>
        public long Version => Interlocked.Read(ref _version);

        public void Signal(long? tail)
        {
            // The version moves first: whoever sees the new tail also sees that older reads are stale.
            Interlocked.Increment(ref _version);
            if (tail is { } value)
            {
                long known;
                while ((known = Interlocked.Read(ref _knownTail)) < value && Interlocked.CompareExchange(ref _knownTail, value, known) != known)
                {
                }
            }
            else
            {
                // Closed or deleted: a stream re-created at the path starts its tails again.
                Interlocked.Exchange(ref _knownTail, -1);
                Interlocked.Increment(ref _checks);
            }

            var fresh = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Interlocked.Exchange(ref _changed, fresh).TrySetResult();
        }
    }

    /// <summary>One read script call that readers at the same offset share.</summary>
    private sealed class SharedRead(long version)
    {
        /// <summary>The stream's <see cref="Watch.Version"/> when the call started.</summary>
        public long Version { get; } = version;

        public TaskCompletionSource<DurableReadResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
