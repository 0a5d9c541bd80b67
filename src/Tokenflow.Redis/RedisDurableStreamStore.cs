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
/// subscription per stream per process, shared by all its waiters) and re-check every
/// <see cref="RedisStreamStoreOptions.PollInterval"/>, since pub/sub is at most once. Streams with a TTL
/// or expiry are retired on access and by a sweep every few seconds, so the store's counts stay exact.
/// All durable keys share one hash tag (<c>{durable}</c>): a fork reads its source and a delete cascades
/// up a fork chain inside one script.
/// </summary>
internal sealed partial class RedisDurableStreamStore : IDurableStreamStore, IHostedService, IDisposable
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(5);
    private static readonly RedisValue[] StateFields = ["t", "c", "s"];
    private readonly RedisStreamStore _redis;
    private readonly DurableStreamOptions _options;
    private readonly ILogger _logger;
    private readonly RedisKey[] _keys;
    private readonly string _base;
    private readonly Dictionary<string, Watch> _watches = new(StringComparer.Ordinal);
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
        var result = ToResult(await EvaluateAsync(DurableScripts.Append, head, messages).ConfigureAwait(false));
        if (result.Outcome is DurableOutcome.Ok or DurableOutcome.Accepted)
        {
            // Waiters in this process need not wait for the pub/sub round trip.
            Signal(request.Path);
        }

        return result;
    }

    public async ValueTask<DurableStreamResult> GetInfoAsync(string path, string? owner, CancellationToken cancellationToken)
        => ToResult(await EvaluateAsync(DurableScripts.Info, [path, owner ?? string.Empty, Now()], []).ConfigureAwait(false));

    public async ValueTask<DurableReadResult> ReadAsync(string path, string? owner, long? position, CancellationToken cancellationToken)
    {
        RedisValue[] args = [path, owner ?? string.Empty, position?.ToString(CultureInfo.InvariantCulture) ?? string.Empty, Now(), _options.MaxReadBytes];
        var values = await EvaluateAsync(DurableScripts.Read, args, []).ConfigureAwait(false);
        var outcome = (DurableOutcome)(int)values[0];
        if (outcome != DurableOutcome.Ok)
        {
            return new DurableReadResult(outcome) { Message = values.Length > 10 ? Text(values[10]) : null };
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
            try
            {
                await watch.Subscribed.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (RedisStreamStore.IsRedisFailure(ex))
            {
                throw new Core.Streams.StreamStoreUnavailableException("The Redis stream store is unavailable.", ex);
            }

            var meta = MetaKey(path);
            while (true)
            {
                var changed = watch.Changed;
                var state = await _redis.Guard(() => _redis.Database.HashGetAsync(meta, StateFields)).ConfigureAwait(false);
                if (state[0].IsNull || state[1] == "1" || state[2] == "1" || (long)state[0] > position)
                {
                    return true;
                }

                try
                {
                    await changed.WaitAsync(_redis.Options.PollInterval, Time, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // Pub/sub is at most once: look again.
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
            Release(path, watch);
        }
    }

    public async ValueTask<DurableStreamResult> DeleteAsync(string path, string? owner, CancellationToken cancellationToken)
    {
        var result = ToResult(await EvaluateAsync(DurableScripts.Delete, [path, owner ?? string.Empty, Now()], []).ConfigureAwait(false));
        if (result.Outcome == DurableOutcome.Ok)
        {
            Signal(path);
        }

        return result;
    }

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
            if (!_watches.TryGetValue(path, out var watch))
            {
                watch = new Watch(RedisChannel.Literal($"{_base}:n:{path}"));
                watch.Subscribed = SubscribeAsync(watch);
                _watches[path] = watch;
            }

            watch.Refs++;
            return watch;
        }
    }

    private async Task SubscribeAsync(Watch watch)
    {
        await _redis.ConnectionAsync().ConfigureAwait(false);
        await _redis.Connection.GetSubscriber().SubscribeAsync(watch.Channel, watch.Handler).ConfigureAwait(false);
    }

    private void Release(string path, Watch watch)
    {
        lock (_gate)
        {
            if (--watch.Refs > 0)
            {
                return;
            }

            _watches.Remove(path);
        }

        if (watch.Subscribed.IsCompletedSuccessfully)
        {
            _ = _redis.Connection.GetSubscriber().UnsubscribeAsync(watch.Channel, watch.Handler, CommandFlags.FireAndForget);
        }
        else
        {
            _ = watch.Subscribed.ContinueWith(
                (task, state) =>
                {
                    if (task.IsCompletedSuccessfully)
                    {
                        var w = (Watch)state!;
                        _redis.Connection.GetSubscriber().Unsubscribe(w.Channel, w.Handler, CommandFlags.FireAndForget);
                    }
                },
                watch,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    private void Signal(string path)
    {
        Watch? watch;
        lock (_gate)
        {
            watch = _watches.GetValueOrDefault(path);
        }

        watch?.Signal();
    }

    private async Task SweepLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(SweepInterval, Time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
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

        public Watch(RedisChannel channel)
        {
            Channel = channel;
            Handler = (_, _) => Signal();
        }

        public RedisChannel Channel { get; }

        public Action<RedisChannel, RedisValue> Handler { get; }

        public Task Subscribed { get; set; } = Task.CompletedTask;

        /// <summary>Guarded by the store's lock.</summary>
        public int Refs { get; set; }

        public Task Changed => Volatile.Read(ref _changed).Task;

        public void Signal()
        {
            var fresh = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Interlocked.Exchange(ref _changed, fresh).TrySetResult();
        }
    }
}
