using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Tokenflow.Core.Streams;

namespace Tokenflow.Redis;

/// <summary>
/// The stream store on Redis Streams, shared by every Tokenflow process that points at the same
/// Redis. A generation's writer lives in the process that runs it: it keeps the log in memory for
/// its own readers and appends it to Redis in pipelined batches; readers in other processes read
/// Redis (<c>XRANGE</c>), woken by pub/sub. Each process holds a lease key while alive, so readers
/// elsewhere end the streams of a dead process with an error event. Redis failures surface as
/// <see cref="StreamCreateStatus.Unavailable"/> and <see cref="StreamStoreUnavailableException"/>;
/// StackExchange.Redis reconnects by itself.
/// </summary>
internal sealed partial class RedisStreamStore : IStreamStore, IHostedService, IAsyncDisposable, IDisposable
{
    private readonly ConcurrentDictionary<string, RedisStreamReplication> _writers = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Lazy<Task<ConnectionMultiplexer>> _connection;
    private readonly RedisKey _leaseKey;
    private readonly RedisChannel _controlChannel;
    private readonly RedisValue _readerField;
    private readonly string _controlPrefix;
    private readonly StreamLogSettings _logSettings;
    private Task? _leaseLoop;
    private int _started;
    private int _running;
    private long _leaseRenewedAt;
    private long _ttlRefreshedAt;
    private int _controlSubscribed;
    private int _disposed;

    public RedisStreamStore(IOptions<RedisStreamStoreOptions> options, IOptions<StreamStoreOptions> storeOptions, TimeProvider timeProvider, ILogger<RedisStreamStore> logger)
    {
        Options = options.Value;
        StoreOptions = storeOptions.Value;
        TimeProvider = timeProvider;
        Logger = logger;
        Node = NewNodeId();
        Prefix = Options.KeyPrefix;
        _leaseKey = StreamKeys.Lease(Prefix, Node);
        _controlChannel = StreamKeys.Control(Prefix, Node);
        _controlPrefix = $"{Prefix}:ctl:";
        _readerField = StreamMeta.ReaderFieldPrefix + Node;
        _connection = new Lazy<Task<ConnectionMultiplexer>>(ConnectAsync);
        _logSettings = new StreamLogSettings
        {
            TimeProvider = timeProvider,
            MaxEvents = StoreOptions.MaxEventsPerStream,
            ResumeGrace = StoreOptions.ResumeGrace,
            Retention = StoreOptions.Retention,
            MaxUncommitted = Options.MaxPendingEvents,
            Logger = logger,
        };
    }

    public RedisStreamStoreOptions Options { get; }

    public StreamStoreOptions StoreOptions { get; }

    public TimeProvider TimeProvider { get; }

    public ILogger Logger { get; }

    /// <summary>This process' id in Redis (lease key, control channel, reader counts).</summary>
    public string Node { get; }

    public string Prefix { get; }

    /// <summary>Streams this process is generating right now.</summary>
    public int RunningStreams => Volatile.Read(ref _running);

    /// <summary>
    /// True while this process' lease is surely still held in Redis (renewed less than
    /// <see cref="RedisStreamStoreOptions.LeaseTimeout"/> minus one renewal interval ago). A writer
    /// sends nothing without it: readers elsewhere may already have ended its streams.
    /// </summary>
    public bool LeaseHeld
    {
        get
        {
            var renewed = Volatile.Read(ref _leaseRenewedAt);
            return renewed != 0 && TimeProvider.GetElapsedTime(renewed) < Options.LeaseTimeout - RenewInterval;
        }
    }

    private TimeSpan RenewInterval => Options.LeaseTimeout / 5;

    /// <summary>The connection; valid once a store operation has awaited <see cref="ConnectionAsync"/>.</summary>
    internal ConnectionMultiplexer Connection => _connection.Value.Result;

    internal IDatabase Database => Connection.GetDatabase();

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await ConnectionAsync().ConfigureAwait(false);
        EnsureStarted();
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_leaseLoop is not null)
        {
            await _leaseLoop.ConfigureAwait(false);
        }

        if (!_connection.IsValueCreated || !_connection.Value.IsCompletedSuccessfully)
        {
            return;
        }

        try
        {
            // A clean stop: running generations end now (readers see "cancelled"), and readers
            // elsewhere need not wait for the lease to time out.
            var writers = _writers.Values.ToList();
            foreach (var writer in writers)
            {
                writer.Log.RequestStop();
            }

            await Task.WhenAll(writers.Select(w => w.Log.Drained)).WaitAsync(TimeSpan.FromSeconds(2), TimeProvider, cancellationToken).ConfigureAwait(false);
            await Database.KeyDeleteAsync(_leaseKey).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsRedisFailure(ex) || ex is OperationCanceledException)
        {
            LogStopFailed(Logger, ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        if (_connection.IsValueCreated && _connection.Value.IsCompletedSuccessfully)
        {
            await _connection.Value.Result.DisposeAsync().ConfigureAwait(false);
        }

        _stop.Dispose();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stop.Cancel();
        if (_connection.IsValueCreated && _connection.Value.IsCompletedSuccessfully)
        {
            _connection.Value.Result.Dispose();
        }

        _stop.Dispose();
    }

    /// <inheritdoc />
    public async ValueTask<(StreamCreateStatus Status, IStreamWriter? Writer)> CreateAsync(StreamDescriptor descriptor, CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _running) > StoreOptions.MaxRunningStreams)
        {
            Interlocked.Decrement(ref _running);
            return (StreamCreateStatus.Full, null);
        }

        var keys = new StreamKeys(Prefix, descriptor.Id);
        try
        {
            await ConnectionAsync().ConfigureAwait(false);
            EnsureStarted();
            if (!LeaseHeld)
            {
                // First stream after start or after Redis came back: take the lease before writing.
                await RenewLeaseAsync().ConfigureAwait(false);
            }

            if (Volatile.Read(ref _controlSubscribed) == 0)
            {
                await SubscribeControlAsync().ConfigureAwait(false);
            }

            RedisValue[] args = [(long)Options.RunningTtl.TotalMilliseconds, .. StreamMeta.Fields(descriptor, Node)];
            var created = (long)await Database.ScriptEvaluateAsync(StreamScripts.Create, [keys.Meta, keys.Events], args).ConfigureAwait(false);
            if (created == 0)
            {
                Interlocked.Decrement(ref _running);
                return (StreamCreateStatus.Exists, null);
            }
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            Interlocked.Decrement(ref _running);
            LogUnavailable(Logger, ex, descriptor.Id);
            return (StreamCreateStatus.Unavailable, null);
        }

        var replication = new RedisStreamReplication(this, descriptor, _logSettings, keys);
        _writers[descriptor.Id] = replication;
        return (StreamCreateStatus.Created, replication.Log);
    }

    /// <inheritdoc />
    public async ValueTask<(StreamOpenStatus Status, IStreamReader? Reader)> OpenReaderAsync(string streamId, long afterSeq, CancellationToken cancellationToken)
    {
        afterSeq = Math.Max(0, afterSeq);
        if (_writers.TryGetValue(streamId, out var writer)
            && writer.Log.OpenReader(afterSeq, out var status) is { } local)
        {
            return (status, local);
        }

        // Not generated here, or retention already released that part here: Redis holds the whole stream.
        await ConnectionAsync().ConfigureAwait(false);
        return await RemoteStreamReader.OpenAsync(this, new StreamKeys(Prefix, streamId), afterSeq).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<StreamStatus?> GetStatusAsync(string streamId, CancellationToken cancellationToken)
    {
        if (_writers.TryGetValue(streamId, out var writer))
        {
            return writer.Log.GetStatus();
        }

        var keys = new StreamKeys(Prefix, streamId);
        var (meta, lastSeq) = await Guard(async () =>
        {
            var database = Database;
            var hash = database.HashGetAllAsync(keys.Meta);
            var last = database.StreamRangeAsync(keys.Events, "-", "+", 1, Order.Descending);
            var parsed = StreamMeta.Parse(streamId, await hash.ConfigureAwait(false));
            var entries = await last.ConfigureAwait(false);
            return (parsed, entries.Length > 0 ? StreamMeta.SeqOf(entries[0].Id) : 0);
        }).ConfigureAwait(false);
        if (meta is null)
        {
            return null;
        }

        return new StreamStatus(streamId, meta.Descriptor.Model, meta.State, meta.Descriptor.Created, meta.State == StreamState.Running ? lastSeq : Math.Max(meta.LastSeq, lastSeq), meta.Usage);
    }

    /// <inheritdoc />
    public async ValueTask<StreamDescriptor?> GetDescriptorAsync(string streamId, CancellationToken cancellationToken)
    {
        if (_writers.TryGetValue(streamId, out var writer))
        {
            return writer.Log.Descriptor;
        }

        var keys = new StreamKeys(Prefix, streamId);
        var entries = await Guard(() => Database.HashGetAllAsync(keys.Meta)).ConfigureAwait(false);
        return StreamMeta.Parse(streamId, entries)?.Descriptor;
    }

    /// <inheritdoc />
    public async ValueTask<bool> CancelAsync(string streamId, CancellationToken cancellationToken)
    {
        if (_writers.TryGetValue(streamId, out var writer))
        {
            writer.Log.RequestStop();
            return true;
        }

        var keys = new StreamKeys(Prefix, streamId);
        return await Guard(async () =>
        {
            var values = await Database.HashGetAsync(keys.Meta, [StreamMeta.StateField, StreamMeta.NodeField]).ConfigureAwait(false);
            if (values[0].IsNull)
            {
                return false;
            }

            if (values[0] == StreamMeta.StateName(StreamState.Running) && !values[1].IsNull)
            {
                // The writer's process stops the generation within one token of receiving this.
                await Database.PublishAsync(StreamKeys.Control(Prefix, values[1].ToString()), "c:" + streamId).ConfigureAwait(false);
            }

            return true;
        }).ConfigureAwait(false);
    }

    /// <summary>Readers of a stream counted in Redis on processes whose lease is alive (this one included).</summary>
    internal async Task<long> CountRemoteReadersAsync(StreamKeys keys)
    {
        var database = Database;
        var entries = await database.HashGetAllAsync(keys.Meta).ConfigureAwait(false);
        var counted = new List<(long Count, Task<bool> Alive)>();
        foreach (var entry in entries)
        {
            var name = entry.Name.ToString();
            if (name.StartsWith(StreamMeta.ReaderFieldPrefix, StringComparison.Ordinal) && entry.Value.TryParse(out long count) && count > 0)
            {
                counted.Add((count, database.KeyExistsAsync(StreamKeys.Lease(Prefix, name[StreamMeta.ReaderFieldPrefix.Length..]))));
            }
        }

        long total = 0;
        foreach (var (count, alive) in counted)
        {
            if (await alive.ConfigureAwait(false))
            {
                total += count;
            }
        }

        return total;
    }

    internal RedisValue ReaderField => _readerField;

    internal string ControlPrefix => _controlPrefix;

    internal void OnEnded() => Interlocked.Decrement(ref _running);

    internal void Unregister(RedisStreamReplication writer) => _writers.TryRemove(new KeyValuePair<string, RedisStreamReplication>(writer.StreamId, writer));

    internal static bool IsRedisFailure(Exception ex) => ex is RedisException or TimeoutException or ObjectDisposedException;

    /// <summary>Runs a Redis call, turning Redis failures into <see cref="StreamStoreUnavailableException"/>.</summary>
    internal async Task<T> Guard<T>(Func<Task<T>> call)
    {
        try
        {
            await ConnectionAsync().ConfigureAwait(false);
            return await call().ConfigureAwait(false);
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            throw new StreamStoreUnavailableException("The Redis stream store is unavailable.", ex);
        }
    }

    internal async Task ConnectionAsync()
    {
        try
        {
            await _connection.Value.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not StreamStoreUnavailableException)
        {
            throw new StreamStoreUnavailableException("The Redis stream store could not be configured.", ex);
        }
    }

    private static string NewNodeId()
    {
        Span<byte> bytes = stackalloc byte[9];
        RandomNumberGenerator.Fill(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    private async Task<ConnectionMultiplexer> ConnectAsync()
    {
        var configuration = ConfigurationOptions.Parse(Options.Configuration);
        var text = Options.Configuration;
        // Start (and keep running) without Redis: calls fail fast while it is away, and the
        // multiplexer reconnects in the background, so the process recovers by itself.
        configuration.AbortOnConnectFail = false;
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        if (!text.Contains("connectTimeout", StringComparison.OrdinalIgnoreCase))
        {
            configuration.ConnectTimeout = 2000;
        }

        configuration.ReconnectRetryPolicy ??= new LinearRetry(500);
        configuration.ClientName ??= "tokenflow-" + Node;
        var connection = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
        return connection;
    }

    private void EnsureStarted()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _leaseLoop = Task.Run(() => RunLeaseLoopAsync(_stop.Token));
        }
    }

    private async Task RenewLeaseAsync()
    {
        var at = TimeProvider.GetTimestamp();
        await Database.StringSetAsync(_leaseKey, 1, Options.LeaseTimeout).ConfigureAwait(false);
        Volatile.Write(ref _leaseRenewedAt, at);
    }

    private async Task SubscribeControlAsync()
    {
        await Connection.GetSubscriber().SubscribeAsync(_controlChannel, (_, message) => OnControl(message)).ConfigureAwait(false);
        Volatile.Write(ref _controlSubscribed, 1);
    }

    private void OnControl(RedisValue message)
    {
        var text = message.ToString();
        if (text.Length < 3 || !_writers.TryGetValue(text[2..], out var writer))
        {
            return;
        }

        if (text[0] == 'c')
        {
            writer.Log.RequestStop();
        }
        else if (text[0] == 'i')
        {
            writer.Log.CheckIdle();
        }
    }

    private async Task RunLeaseLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(RenewInterval, TimeProvider);
        do
        {
            try
            {
                await RenewLeaseAsync().ConfigureAwait(false);
                if (Volatile.Read(ref _controlSubscribed) == 0)
                {
                    await SubscribeControlAsync().ConfigureAwait(false);
                }

                if (TimeProvider.GetElapsedTime(Volatile.Read(ref _ttlRefreshedAt)) >= Options.RunningTtl / 4)
                {
                    Volatile.Write(ref _ttlRefreshedAt, TimeProvider.GetTimestamp());
                    var database = Database;
                    foreach (var writer in _writers.Values)
                    {
                        // Running streams keep their safety expiry; finished ones were given the completed TTL.
                        if (writer.IsRunning)
                        {
                            _ = database.KeyExpireAsync(writer.Keys.Meta, Options.RunningTtl, ExpireWhen.Always, CommandFlags.FireAndForget);
                            _ = database.KeyExpireAsync(writer.Keys.Events, Options.RunningTtl, ExpireWhen.Always, CommandFlags.FireAndForget);
                        }
                    }
                }
            }
            catch (Exception ex) when (IsRedisFailure(ex))
            {
                LogLeaseFailed(Logger, ex.Message);
            }
        }
        while (await WaitAsync(timer, cancellationToken).ConfigureAwait(false));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is unavailable; stream {StreamId} was refused")]
    private static partial void LogUnavailable(ILogger logger, Exception exception, string streamId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not renew this process' lease in Redis: {Reason}")]
    private static partial void LogLeaseFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not end this process' streams cleanly in Redis")]
    private static partial void LogStopFailed(ILogger logger, Exception exception);
}
