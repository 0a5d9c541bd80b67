using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Tokenflow.Core.Durable;

namespace Tokenflow.Redis;

/// <summary>
/// The Durable Streams store on Redis, shared by every process that points at the same Redis: each
/// operation is one Lua script (<see cref="DurableScripts"/>), so create, append, producer fencing, forks
/// and expiry are atomic across processes. Live readers wait on a pub/sub channel per stream (one
/// subscription per stream per process, shared by all its waiters): an append publishes the new tail,
/// so woken waiters need no Redis call, and waiters that then read from the same offset share one read.
/// They re-check every <see cref="RedisStreamStoreOptions.PollInterval"/>, since pub/sub is at most once. Streams with a TTL
/// or expiry are retired on access and by a sweep every few seconds, so the store's counts stay exact.
/// All durable keys share one hash tag (<c>{durable}</c>): a fork reads its source and a delete cascades
/// up a fork chain inside one script.
/// </summary>
internal sealed partial class RedisDurableStreamStore : IDurableStreamStore, IHostedService, IDisposable
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan WatchIdleTimeout = TimeSpan.FromSeconds(30);
    private static readonly RedisValue[] StateFields = ["t", "c", "s"];
    private readonly RedisStreamStore _redis;
    private readonly DurableStreamOptions _options;
    private readonly ILogger _logger;
    private readonly RedisKey[] _keys;
    private readonly string _base;
    private readonly Dictionary<string, Watch> _watches = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Path, string? Owner, long? Position), SharedRead> _reads = [];
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _sweeper;

    public RedisDurableStreamStore(RedisStreamStore redis, IOptions<DurableStreamOptions> options, ILogger<RedisDurableStreamStore> logger)
    {
        _redis = redis;
        _options = options.Value;
        _logger = logger;
        _base = $"{redis.Prefix}:{{durable}}";
        _keys = [_base];
    }

    private TimeProvider Time => _redis.TimeProvider;

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
        var contentType = request.ContentType;
        if (contentType is null && request.ForkedFrom is not null && !request.Body.IsEmpty)
        {
            // The body is split by the type the fork inherits; the script re-checks the source.
            contentType = (string?)await _redis.Guard(() => _redis.Database.HashGetAsync(MetaKey(request.ForkedFrom), "ct")).ConfigureAwait(false);
        }

        var messages = new List<ReadOnlyMemory<byte>>();
        DurableMessages.Split(request.Body, DurableMessages.IsJsonType(contentType ?? "application/octet-stream"), allowEmptyArray: true, messages, out var error);
        RedisValue[] head =
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
            Now(),
            _options.MaxStreams,
            _options.MaxBytes,
            error ?? string.Empty,
        ];
        var result = await EvaluateAsync(DurableScripts.Create, head, messages).ConfigureAwait(false);
        return ToResult(result);
    }

    public async ValueTask<DurableStreamResult> AppendAsync(DurableAppendRequest request, CancellationToken cancellationToken)
    {
        var messages = new List<ReadOnlyMemory<byte>>();
        string? error = null;
        if (!request.Body.IsEmpty)
        {
            DurableMessages.Split(request.Body, DurableMessages.IsJsonType(request.ContentType), allowEmptyArray: false, messages, out error);
        }

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
            _options.MaxBytes,
            error ?? string.Empty,
        ];
        // Waiters, here too, learn of it by pub/sub: one ordered source, so a tail announced before a delete
        // never arrives after it.
        return ToResult(await EvaluateAsync(DurableScripts.Append, head, messages).ConfigureAwait(false));
    }

    public async ValueTask<DurableStreamResult> GetInfoAsync(string path, string? owner, CancellationToken cancellationToken)
        => ToResult(await EvaluateAsync(DurableScripts.Info, [path, owner ?? string.Empty, Now()], []).ConfigureAwait(false));

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
        var values = await EvaluateAsync(DurableScripts.Read, args, []).ConfigureAwait(false);
        var outcome = (DurableOutcome)(int)values[0];
        if (outcome != DurableOutcome.Ok)
        {
            return new DurableReadResult(outcome) { Message = Text(values[10]) };
        }

        var tail = Long(values[1]) ?? 0;
        var closed = (string?)values[2] == "1";
        var next = Long(values[9]) ?? 0;
        var chunks = new ReadOnlyMemory<byte>[values.Length - 11];
        for (var i = 0; i < chunks.Length; i++)
        {
            chunks[i] = (byte[]?)values[11 + i] ?? [];
        }

        return new DurableReadResult(DurableOutcome.Ok)
        {
            StreamKey = Long(values[5]) ?? 0,
            ContentType = (string?)values[3] ?? "application/octet-stream",
            IsJson = (string?)values[4] == "1",
            Chunks = chunks,
            Start = Long(values[8]) ?? 0,
            Next = next,
            UpToDate = next == tail,
            Closed = closed && next == tail,
            TtlSeconds = Long(values[6]),
            ExpiresAt = Expiry(values[7]),
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
        => ToResult(await EvaluateAsync(DurableScripts.Delete, [path, owner ?? string.Empty, Now()], []).ConfigureAwait(false));

    private RedisKey MetaKey(string path) => $"{_base}:m:{path}";

    private long Now() => Time.GetUtcNow().ToUnixTimeMilliseconds();

    private Task<RedisResult[]> EvaluateAsync(string script, RedisValue[] head, List<ReadOnlyMemory<byte>> messages)
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

        return _redis.Guard(async () => (RedisResult[])(await _redis.Database.ScriptEvaluateAsync(script, _keys, args).ConfigureAwait(false))!);
    }

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
                watch = new Watch(RedisChannel.Literal($"{_base}:n:{path}"));
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
        using var timer = new PeriodicTimer(SweepInterval, Time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                DropIdleWatches();
                try
                {
                    // Each call retires at most 256 streams; go on while more are due.
                    for (var round = 0; round < 100; round++)
                    {
                        var due = (long)await _redis.Guard(() => _redis.Database.ScriptEvaluateAsync(DurableScripts.Sweep, _keys, [Now()])).ConfigureAwait(false);
                        if (due == 0)
                        {
                            break;
                        }
                    }
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
