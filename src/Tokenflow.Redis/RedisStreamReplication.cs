using System.Buffers;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Tokenflow.Core.Streams;

namespace Tokenflow.Redis;

/// <summary>
/// A generation run by this process: its <see cref="StreamLog"/> (Core's one log, which also
/// serves this process' readers) replicated to Redis. The log calls back when events wait; the
/// send loop ships everything appended since its last batch as one Redis stream entry and, while
/// that is in flight, the next batch gathers — group commit, so a fast model costs one round trip
/// per batch, not per token. Readers here see events once Redis acknowledged them
/// (<see cref="StreamLog.Commit"/>), so nothing a reader has seen can be missing for a reader
/// elsewhere. If Redis fails or refuses a batch the stream is lost (<see cref="StreamLog.Lose"/>):
/// the generation is stopped and readers here end with an error event.
/// </summary>
internal sealed partial class RedisStreamReplication : IStreamLogHost
{
    private static readonly Action<ArrayBufferWriter<byte>, StreamEvent> Encode = static (batch, e) => EventBatchCodec.Write(batch, e);

    private readonly RedisStreamStore _store;
    private readonly ArrayBufferWriter<byte> _batch = new(1024);
    private long _trimmedTo = 1;

    public RedisStreamReplication(RedisStreamStore store, StreamDescriptor descriptor, StreamLogSettings settings, StreamKeys keys)
    {
        _store = store;
        Keys = keys;
        Log = new StreamLog(descriptor, settings, this);
    }

    public StreamLog Log { get; }

    public StreamKeys Keys { get; }

    public string StreamId => Log.StreamId;

    /// <summary>True while the generation runs and Redis holds its stream.</summary>
    public bool IsRunning => !Log.HasEnded && !Log.IsLost;

    void IStreamLogHost.OnEnded(StreamLog log) => _store.OnEnded();

    void IStreamLogHost.OnReplicationNeeded(StreamLog log)
        => ThreadPool.UnsafeQueueUserWorkItem(static s => _ = s.SendAsync(), this, preferLocal: false);

    // From now on readers here read the stream from Redis like any other process.
    void IStreamLogHost.OnDisposed(StreamLog log) => _store.Unregister(this);

    async ValueTask<TimeSpan?> IStreamLogHost.OnIdleAsync(StreamLog log)
    {
        try
        {
            // Readers on other processes count too (their processes must be alive).
            if (await _store.CountRemoteReadersAsync(Keys).ConfigureAwait(false) == 0)
            {
                return null;
            }
        }
        catch (Exception ex) when (RedisStreamStore.IsRedisFailure(ex))
        {
            // Cannot tell: keep generating and ask again.
        }

        // Watch the remote readers: their process may die without saying so.
        return _store.Options.LeaseTimeout;
    }

    private async Task SendAsync()
    {
        var database = _store.Database;
        while (true)
        {
            _batch.ResetWrittenCount();
            if (!Log.TakeUnsent(_batch, Encode, out var batch))
            {
                return;
            }

            if (!_store.LeaseHeld)
            {
                // Readers elsewhere may already have ended this process' streams.
                Lose(new StreamError("This server lost contact with the stream store; the stream was ended.", "server_error", "store_unavailable"));
                return;
            }

            var entryId = $"{batch.ToSeq}-0";
            StreamError? failure = null;
            try
            {
                if (batch.IsFinal)
                {
                    var ttl = (long)_store.StoreOptions.CompletedTtl.TotalMilliseconds;
                    var done = (long)await database.ScriptEvaluateAsync(
                        StreamScripts.Finish,
                        [Keys.Meta, Keys.Events],
                        [entryId, _batch.WrittenMemory, StreamMeta.StateName(batch.State), batch.ToSeq, batch.Usage.PromptTokens, batch.Usage.CompletionTokens, Math.Max(1, ttl), _store.Node, Keys.Notify.ToString()]).ConfigureAwait(false);
                    if (done == 0)
                    {
                        failure = new StreamError("The stream was ended elsewhere (its server was presumed dead) or lost by the stream store.", "server_error", "stream_lost");
                    }
                }
                else
                {
                    var added = database.StreamAddAsync(Keys.Events, EventBatchCodec.Field, _batch.WrittenMemory, new StreamAddOptions { MessageId = entryId, CreateStream = false });
                    // Pipelined behind the append: readers elsewhere are woken once it is readable.
                    _ = database.PublishAsync(Keys.Notify, batch.ToSeq, CommandFlags.FireAndForget);
                    if ((await added.ConfigureAwait(false)).IsNull)
                    {
                        failure = new StreamError("The stream store lost the stream (Redis restarted?).", "server_error", "stream_lost");
                    }
                }
            }
            catch (Exception ex) when (RedisStreamStore.IsRedisFailure(ex))
            {
                LogSendFailed(_store.Logger, ex, StreamId);
                failure = new StreamError("The stream store became unavailable while generating.", "server_error", "store_unavailable");
            }

            if (failure is not null)
            {
                Lose(failure);
                return;
            }

            Log.Commit(batch.ToSeq);
            if (batch.IsFinal)
            {
                return;
            }

            TrimIfReleased(database);
        }
    }

    /// <summary>
    /// Retention "none": once the log here released another block, Redis drops the same entries
    /// (the script refuses while readers on other processes follow the stream). Fire and forget:
    /// a trim that does not happen only keeps data until the stream's TTL.
    /// </summary>
    private void TrimIfReleased(IDatabase database)
    {
        if (Log.Retention != StreamRetention.None)
        {
            return;
        }

        var held = Log.FirstHeld;
        if (held < _trimmedTo + 256)
        {
            return;
        }

        _trimmedTo = held;
        _ = database.ScriptEvaluateAsync(StreamScripts.Trim, [Keys.Meta, Keys.Events], [held], CommandFlags.FireAndForget);
    }

    private void Lose(StreamError error)
    {
        Log.Lose(error);
        LogLost(_store.Logger, StreamId, error.Code);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stream {StreamId} could not be written to Redis")]
    private static partial void LogSendFailed(ILogger logger, Exception exception, string streamId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stream {StreamId} was lost ({Code}); its generation is stopped")]
    private static partial void LogLost(ILogger logger, string streamId, string? code);
}
