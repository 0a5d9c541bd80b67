using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Streams;
using Tokenflow.Core.Watches;

namespace Tokenflow.Core.Generation;

/// <summary>
/// Starts generations: creates the stream, then runs the backend call in the background, turning
/// its pieces into whole-character deltas (UTF-8 decoding, stop sequences, max tokens) appended to
/// the stream log, and ends the stream with usage and a done event — or an error event. Every
/// stream it starts ends with a terminal event, whatever happens.
/// </summary>
public sealed partial class GenerationRunner
{
    private readonly IStreamStore _store;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<GenerationRunner> _logger;

    // The watches of the generations this process runs, for watches added while they run.
    private readonly ConcurrentDictionary<string, WatchSet> _running = new(StringComparer.Ordinal);

    /// <summary>Creates the runner.</summary>
    public GenerationRunner(IStreamStore store, TimeProvider timeProvider, ILogger<GenerationRunner> logger)
    {
        _store = store;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <summary>
    /// Creates a stream for the request and starts generating into it. Returns at once; read the
    /// stream to follow the output. The returned task completes when the stream exists.
    /// </summary>
    public async ValueTask<GenerationStart> StartAsync(ModelEntry model, BackendRequest request, GenerationOptions options, CancellationToken cancellationToken)
    {
        var created = _timeProvider.GetUtcNow().ToUnixTimeSeconds();
        var descriptor = new StreamDescriptor
        {
            Id = StreamIds.New(options.IdPrefix),
            Model = model.Id,
            Created = created,
            Background = options.Background,
            ResumeGrace = options.ResumeGrace,
            Retention = options.Retention,
            Owner = options.Owner,
            Metadata = options.Metadata,
            Context = options.Context,
        };

        var (status, writer) = await _store.CreateAsync(descriptor, cancellationToken).ConfigureAwait(false);
        if (status != StreamCreateStatus.Created || writer is null)
        {
            return new GenerationStart(status, null, created);
        }

        var startedAt = Stopwatch.GetTimestamp();
        _ = Task.Run(() => RunAsync(model, request, options, writer, startedAt), CancellationToken.None);
        return new GenerationStart(StreamCreateStatus.Created, descriptor.Id, created);
    }

    /// <summary>
    /// Adds a watch to a generation this process is running; it fires at the first content delta from now on
    /// whose text matches (the text since the stream's first watch was added: a stream without watches keeps
    /// no copy of its output). The caller checked the caller may see the stream.
    /// </summary>
    public WatchAddResult TryAddWatch(string streamId, WatchSpec watch)
    {
        if (!_running.TryGetValue(streamId, out var watches))
        {
            return WatchAddResult.NotRunning;
        }

        return watches.TryAdd(watch) ? WatchAddResult.Added : WatchAddResult.DuplicateId;
    }

    private async Task RunAsync(ModelEntry model, BackendRequest request, GenerationOptions options, IStreamWriter writer, long startedAt)
    {
        var watches = new WatchSet(options.Watches, options.CancelOn, _logger);
        _running[writer.StreamId] = watches;
        try
        {
            await RunAsync(model, request, options, writer, watches, startedAt).ConfigureAwait(false);
        }
        finally
        {
            _running.TryRemove(writer.StreamId, out _);
        }
    }

    private async Task RunAsync(ModelEntry model, BackendRequest request, GenerationOptions options, IStreamWriter writer, WatchSet watches, long startedAt)
    {
        await using var _ = writer.ConfigureAwait(false);
        using var scope = _logger.BeginScope("stream {StreamId}", writer.StreamId);
        var decoder = new Utf8PieceDecoder();
        var stops = new StopSequenceMatcher(options.Stop);
        var side = new SideChannels();
        var tokens = 0;
        long firstAt = 0, lastAt = 0;
        var finish = FinishReason.Stop;
        var stopping = writer.Stopping;
        var stopped = false;

        try
        {
            await foreach (var piece in model.Backend.GenerateAsync(request, stopping).WithCancellation(stopping).ConfigureAwait(false))
            {
                lastAt = Stopwatch.GetTimestamp();
                if (tokens++ == 0)
                {
                    firstAt = lastAt;
                }

                writer.ReportUsage(new Usage(request.PromptTokens, tokens));

                if (piece.Channel != DeltaChannel.Content)
                {
                    if (!side.Append(writer, piece))
                    {
                        Fail(writer, request, tokens);
                        return;
                    }
                }
                else if (!Emit(writer, stops, watches, decoder.Decode(piece.Utf8.Span), ref stopped, out var cancel))
                {
                    Fail(writer, request, tokens);
                    return;
                }
                else if (cancel)
                {
                    // cancel_on: the watch fired on this token; the model makes no other.
                    finish = FinishReason.Cancelled;
                    break;
                }

                if (stopped)
                {
                    break;
                }

                await writer.FlushAsync(stopping).ConfigureAwait(false);
                if (tokens >= options.MaxTokens)
                {
                    finish = FinishReason.Length;
                    break;
                }

                if (stopping.IsCancellationRequested)
                {
                    finish = FinishReason.Cancelled;
                    break;
                }
            }

            // Output cut short (max tokens, cancel) drops a half-generated character instead of
            // sending U+FFFD; a model that ends by itself mid-character gets U+FFFD.
            if (finish != FinishReason.Stop)
            {
                decoder.Discard();
            }

            if ((!stopped && !FlushTails(writer, decoder, stops, watches)) || !side.Flush(writer))
            {
                Fail(writer, request, tokens);
                return;
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            finish = FinishReason.Cancelled;
            decoder.Discard();
            side.Discard();
            if (!FlushTails(writer, decoder, stops, watches))
            {
                Fail(writer, request, tokens);
                return;
            }
        }
        catch (ModelBackendException ex)
        {
            LogBackendError(_logger, model.Id, ex.Error.Code, ex.Message);
            side.Discard();
            writer.Fail(ex.Error, new Usage(request.PromptTokens, request.CompletionTokens ?? tokens));
            await writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            return;
        }
        catch (Exception ex)
        {
            LogBackendFailed(_logger, ex, model.Id);
            writer.Fail(new StreamError($"The model failed while generating: {ex.Message}", "server_error", "backend_failed"), new Usage(request.PromptTokens, tokens));
            await writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            return;
        }

        // A backend that knows better (an upstream's usage and finish_reason) has the last word,
        // except on a cancel or a limit this generation enforced.
        if (finish == FinishReason.Stop && !stopped)
        {
            finish = request.FinishReason != FinishReason.None ? request.FinishReason
                : side.MadeToolCalls ? FinishReason.ToolCalls
                : FinishReason.Stop;
        }

        var completionTokens = finish == FinishReason.Cancelled ? tokens : request.CompletionTokens ?? tokens;
        var timings = new Timings(
            tokens == 0 ? 0 : Stopwatch.GetElapsedTime(startedAt, firstAt).TotalMilliseconds,
            tokens < 2 ? 0 : Stopwatch.GetElapsedTime(firstAt, lastAt).TotalMilliseconds / (tokens - 1));
        writer.Complete(finish, new Usage(request.PromptTokens, completionTokens), timings, stopped ? stops.Matched : null);
        await writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
    }

    private static bool Emit(IStreamWriter writer, StopSequenceMatcher stops, WatchSet watches, ReadOnlySpan<byte> text, ref bool stopped, out bool cancel)
    {
        cancel = false;
        if (text.IsEmpty)
        {
            return true;
        }

        stopped = stops.Push(text, out var release);
        return Append(writer, watches, release, out cancel);
    }

    /// <summary>Appends released content and lets the watches look at it.</summary>
    private static bool Append(IStreamWriter writer, WatchSet watches, ReadOnlySpan<byte> release, out bool cancel)
    {
        cancel = false;
        return release.IsEmpty || (writer.TryAppendDelta(release) && watches.OnContent(writer, writer.LastSeq, release, out cancel));
    }

    private static bool FlushTails(IStreamWriter writer, Utf8PieceDecoder decoder, StopSequenceMatcher stops, WatchSet watches)
    {
        var stopped = false;
        return Emit(writer, stops, watches, decoder.Flush(), ref stopped, out _) && (stopped || Append(writer, watches, stops.Flush(), out _));
    }

    private static void Fail(IStreamWriter writer, BackendRequest request, int tokens)
        => writer.Fail(new StreamError("The stream exceeded the store's limits and was ended.", "server_error", "stream_limit_exceeded"), new Usage(request.PromptTokens, tokens));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backend for model {Model} ended the stream with {Code}: {Message}")]
    private static partial void LogBackendError(ILogger logger, string model, string? code, string message);

    [LoggerMessage(Level = LogLevel.Error, Message = "Backend for model {Model} failed")]
    private static partial void LogBackendFailed(ILogger logger, Exception exception, string model);

    /// <summary>
    /// The channels besides content: each decoded to whole characters on its own (no stop
    /// sequences), tool-call arguments per call, a call's undecoded tail flushed when the next begins.
    /// </summary>
    private sealed class SideChannels
    {
        private readonly Utf8PieceDecoder _reasoning = new();
        private readonly Utf8PieceDecoder _refusal = new();
        private readonly Utf8PieceDecoder _arguments = new();
        private int _toolCall = -1;

        public bool MadeToolCalls => _toolCall >= 0;

        public bool Append(IStreamWriter writer, in TokenPiece piece)
        {
            switch (piece.Channel)
            {
                case DeltaChannel.Reasoning:
                    return writer.TryAppendDelta(DeltaChannel.Reasoning, _reasoning.Decode(piece.Utf8.Span));
                case DeltaChannel.Refusal:
                    return writer.TryAppendDelta(DeltaChannel.Refusal, _refusal.Decode(piece.Utf8.Span));
            }

            if (piece.ToolCallId is { } id)
            {
                if (!FlushArguments(writer))
                {
                    return false;
                }

                _toolCall = piece.ToolCallIndex;
                return writer.TryAppendToolCallStart(piece.ToolCallIndex, id, piece.ToolName ?? string.Empty, _arguments.Decode(piece.Utf8.Span));
            }

            if (piece.ToolCallIndex != _toolCall && !FlushArguments(writer))
            {
                return false;
            }

            _toolCall = piece.ToolCallIndex;
            return writer.TryAppendDelta(DeltaChannel.ToolCall, _arguments.Decode(piece.Utf8.Span), piece.ToolCallIndex);
        }

        public bool Flush(IStreamWriter writer)
            => writer.TryAppendDelta(DeltaChannel.Reasoning, _reasoning.Flush())
                && writer.TryAppendDelta(DeltaChannel.Refusal, _refusal.Flush())
                && FlushArguments(writer);

        public void Discard()
        {
            _reasoning.Discard();
            _refusal.Discard();
            _arguments.Discard();
        }

        private bool FlushArguments(IStreamWriter writer)
            => _toolCall < 0 || writer.TryAppendDelta(DeltaChannel.ToolCall, _arguments.Flush(), _toolCall);
    }
}
