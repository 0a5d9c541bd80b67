using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Streams;
using Tokenflow.LlamaCpp.Grammar;
using Tokenflow.LlamaCpp.Inference;
using Tokenflow.LlamaCpp.ModelFiles;
using Tokenflow.LlamaCpp.Native;

namespace Tokenflow.LlamaCpp;

/// <summary>
/// Runs a GGUF model in-process on the CPU through llama.cpp (LLamaSharp). The model is loaded once
/// (on first use or by <see cref="LoadAsync"/>) into one shared context; concurrent requests generate
/// together in batched decode steps on a dedicated inference thread, so no thread-pool thread ever waits
/// on the model. Thread-safe.
/// </summary>
public sealed partial class LlamaCppBackend : IModelBackend, IDisposable
{
    private const string WarmupPrompt = "Hello";

    private readonly LlamaCppOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private ModelDownloader? _downloader;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _disposing = new();
    private readonly Lazy<int> _contextLengthBeforeLoad;
    private Task<LlamaCppEngine>? _loading;
    private bool _disposed;

    /// <summary>
    /// Creates the backend for <paramref name="model"/>; cheap: nothing is read or loaded until
    /// <see cref="LoadAsync"/> or the first request. <paramref name="downloader"/> fetches <c>hf:</c>
    /// references (a default one, with <see cref="ModelDownloadOptions"/> defaults, when null).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="options"/> are invalid.</exception>
    public LlamaCppBackend(ModelReference model, LlamaCppOptions options, ILoggerFactory? loggerFactory = null, ModelDownloader? downloader = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.ThrowIfInvalid();
        Model = model;
        _options = options.Clone();
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<LlamaCppBackend>();
        _downloader = downloader;
        _contextLengthBeforeLoad = new Lazy<int>(PeekContextLength);
    }

    /// <summary>The model this backend runs.</summary>
    public ModelReference Model { get; }

    /// <summary>
    /// The context window of each request in tokens: <see cref="LlamaCppOptions.ContextSize"/>, or the
    /// model's trained context capped at <see cref="LlamaCppOptions.DefaultContextCap"/>. Before loading it
    /// is read from the GGUF header when the file is on disk; 0 when not known yet (an <c>hf:</c> model not
    /// downloaded yet).
    /// </summary>
    public int ContextLength => _loading is { IsCompletedSuccessfully: true } loaded ? loaded.Result.ContextLength : _contextLengthBeforeLoad.Value;

    /// <summary>Requests holding a place in the context right now (0 before loading); for tests.</summary>
    internal int ActiveSequenceCount => _loading is { IsCompletedSuccessfully: true } loaded ? loaded.Result.ActiveSequenceCount : 0;

    /// <summary>True once the model is loaded and warmed up.</summary>
    public bool IsLoaded => _loading is { IsCompletedSuccessfully: true };

    /// <summary>
    /// Loads the model (downloading an <c>hf:</c> reference first) and runs the warm-up generation, once;
    /// later calls wait for the same load. A failed load is retried by the next call.
    /// <paramref name="cancellationToken"/> stops the waiting, not the load.
    /// </summary>
    public Task LoadAsync(CancellationToken cancellationToken = default) => GetEngineAsync(cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// Waits for the model to load, then queues the request; it starts when one of
    /// <see cref="LlamaCppOptions.MaxConcurrentSequences"/> slots is free. Each piece carries one token's raw
    /// bytes (possibly part of a UTF-8 character) and its id; the bytes stay valid until the next piece is
    /// requested. Ends at an end-of-generation token, after <see cref="BackendRequest.MaxTokens"/>, or when
    /// the context window is full. Cancelling (or disposing the enumerator) frees the request's place in
    /// the context before the next decode step.
    /// <para>
    /// <see cref="BackendRequest.ResponseFormat"/> <c>json_object</c>/<c>json_schema</c> and a forced tool call
    /// (<see cref="ToolChoiceMode.Required"/> or <see cref="ToolChoiceMode.Function"/>) constrain sampling with a
    /// llama.cpp grammar built from the schema; the output then ends when its JSON value closes. A forced call
    /// is yielded as <see cref="TokenPiece.ToolCallStart"/> (once the function's name is complete) and
    /// <see cref="TokenPiece.ToolCallArguments"/> pieces whose bytes concatenated are the arguments JSON; the
    /// backend sets <see cref="BackendRequest.FinishReason"/> (tool_calls, or length when cut) and
    /// <see cref="BackendRequest.CompletionTokens"/>. <see cref="ToolChoiceMode.Auto"/> and
    /// <see cref="ToolChoiceMode.None"/> leave the output free text. A schema the grammar cannot express
    /// throws <see cref="ModelBackendException"/> with status 400 and code <c>unsupported_schema</c>.
    /// </para>
    /// </remarks>
    public async IAsyncEnumerable<TokenPiece> GenerateAsync(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var constraint = GetConstraint(request);
        var engine = await GetEngineAsync(cancellationToken).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        var sequence = Submit(engine, request, constraint);
        request.PromptTokens = sequence.Prompt.Length;
        var toolCall = constraint?.ToolCalls is { } targets ? new ToolCallStream(targets, NewToolCallId(request.Seed)) : null;
        using var registration = cancellationToken.UnsafeRegister(static (state, _) => Cancel(((InferenceSequence, LlamaCppEngine))state!), (sequence, engine));
        try
        {
            var buffer = new byte[64];
            var tokens = sequence.Tokens;
            while (await tokens.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (sequence.TryRead(out var token))
                {
                    var length = engine.TokenToPiece(token, ref buffer);
                    if (toolCall is null)
                    {
                        yield return new TokenPiece(buffer.AsMemory(0, length), (int)token);
                    }
                    else if (toolCall.TryFeed(buffer.AsSpan(0, length), (int)token, out var piece))
                    {
                        yield return piece;
                    }

                    cancellationToken.ThrowIfCancellationRequested();
                }
            }

            if (toolCall is not null)
            {
                // Pieces are not tokens here (the wrapper's tokens are not passed on): report the true count,
                // and why the call ended, since the generation cannot tell a cut-off call from a finished one.
                request.CompletionTokens = sequence.Generated;
                request.FinishReason = sequence.EndedByModel ? FinishReason.ToolCalls : FinishReason.Length;
                if (toolCall.TryFinish(sequence.EndedByModel, out var last))
                {
                    yield return last;
                }
            }
        }
        finally
        {
            // Ended early (cancelled, or the consumer stopped reading): free the sequence's KV cells now.
            Cancel((sequence, engine));
        }
    }

    /// <summary>Stops generating (queued requests end with <see cref="ObjectDisposedException"/>) and unloads the model.</summary>
    public void Dispose()
    {
        Task<LlamaCppEngine>? loading;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            loading = _loading;
        }

        _disposing.Cancel();
        if (loading is null)
        {
            return;
        }

        if (loading.IsCompletedSuccessfully)
        {
            loading.Result.Dispose();
        }
        else
        {
            // Still loading: unload whatever the load ends with.
            _ = loading.ContinueWith(
                static t =>
                {
                    if (t.IsCompletedSuccessfully)
                    {
                        t.Result.Dispose();
                    }
                    else
                    {
                        _ = t.Exception;
                    }
                },
                CancellationToken.None,
                TaskContinuationOptions.None,
                TaskScheduler.Default);
        }
    }

    private static OutputConstraint? GetConstraint(BackendRequest request)
    {
        try
        {
            return OutputConstraint.For(request);
        }
        catch (SchemaNotSupportedException ex)
        {
            throw new ModelBackendException(new StreamError(ex.Message, "invalid_request_error", "unsupported_schema") { Status = 400 }, ex);
        }
    }

    private static InferenceSequence Submit(LlamaCppEngine engine, BackendRequest request, OutputConstraint? constraint)
    {
        try
        {
            return engine.Submit(request, constraint);
        }
        catch (InvalidGrammarException ex)
        {
            throw new ModelBackendException(new StreamError(ex.Message, "invalid_request_error", "unsupported_schema") { Status = 400 }, ex);
        }
    }

    /// <summary>An OpenAI-style tool call id (<c>call_</c> + 24 letters and digits); reproducible for a seeded request.</summary>
    private static string NewToolCallId(long? seed)
    {
        const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        var random = seed is { } s ? new Random(unchecked((int)(s ^ (s >> 32)))) : Random.Shared;
        return string.Create(29, random, static (chars, random) =>
        {
            "call_".CopyTo(chars);
            for (var i = 5; i < chars.Length; i++)
            {
                chars[i] = Alphabet[random.Next(Alphabet.Length)];
            }
        });
    }

    private static void Cancel((InferenceSequence Sequence, LlamaCppEngine Engine) state) => state.Engine.Cancel(state.Sequence);

    private Task<LlamaCppEngine> GetEngineAsync(CancellationToken cancellationToken)
    {
        Task<LlamaCppEngine> loading;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_loading is null || _loading.IsFaulted || _loading.IsCanceled)
            {
                _loading = LoadCoreAsync();
            }

            loading = _loading;
        }

        return loading.WaitAsync(cancellationToken);
    }

    private async Task<LlamaCppEngine> LoadCoreAsync()
    {
        // Off the caller's thread: the first awaits (download, native load) must not run inline under the lock.
        await Task.Yield();
        var cancellationToken = _disposing.Token;
        try
        {
            LlamaNativeRuntime.EnsureInitialized(_loggerFactory, _options.CpuBuild);
            var path = await Model.ResolveAsync(_downloader ??= CreateDefaultDownloader(), cancellationToken).ConfigureAwait(false);
            var header = GgufHeader.Read(path);
            var started = Stopwatch.GetTimestamp();
            var engine = await LlamaCppEngine.StartAsync(path, _options, _logger).ConfigureAwait(false);
            var loadMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            try
            {
                var warmupMs = await WarmUpAsync(engine, cancellationToken).ConfigureAwait(false);
                LogLoaded(
                    _logger, Model.Value, header.Architecture ?? "?", engine.ParameterCount / 1e6, engine.ContextLength,
                    engine.Prompts.ChatTemplate is not null ? "chat template" : "plain prompts", engine.Threads, engine.Sequences, loadMs, warmupMs);
                lock (_gate)
                {
                    ObjectDisposedException.ThrowIf(_disposed, this);
                }

                return engine;
            }
            catch
            {
                engine.Dispose();
                throw;
            }
        }
        catch (Exception ex) when (!_disposing.IsCancellationRequested)
        {
            LogLoadFailed(_logger, ex, Model.Value);
            throw;
        }
    }

    private async Task<double> WarmUpAsync(LlamaCppEngine engine, CancellationToken cancellationToken)
    {
        if (_options.WarmupTokens == 0)
        {
            return 0;
        }

        // Greedy, a few tokens: llama.cpp's first decodes are slow (buffer allocation, OpenMP thread start).
        var started = Stopwatch.GetTimestamp();
        var sequence = engine.Submit(new BackendRequest { Model = Model.Value, Prompt = WarmupPrompt, MaxTokens = _options.WarmupTokens, Temperature = 0 });
        try
        {
            await foreach (var _ in sequence.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
            }
        }
        finally
        {
            engine.Cancel(sequence);
        }

        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    private ModelDownloader CreateDefaultDownloader()
        => new(new HttpClient { Timeout = Timeout.InfiniteTimeSpan }, new ModelDownloadOptions(), _loggerFactory.CreateLogger<ModelDownloader>());

    private int PeekContextLength()
    {
        if (_options.ContextSize > 0)
        {
            return _options.ContextSize;
        }

        try
        {
            var path = Model.IsHuggingFace ? _downloader?.GetCachePath(Model) : Model.LocalPath;
            if (path is null || !File.Exists(path))
            {
                return 0;
            }

            var trained = GgufHeader.Read(path).ContextLength;
            return trained > 0 ? Math.Min(trained, LlamaCppOptions.DefaultContextCap) : LlamaCppOptions.DefaultContextCap;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            // Reported properly when the model loads.
            return 0;
        }
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Loaded model {Model} ({Architecture}, {Parameters:0.0}M parameters, context {ContextLength} tokens, {PromptMode}; {Threads} threads, {Sequences} sequences) in {LoadMs:0} ms; warm-up took {WarmupMs:0} ms")]
    private static partial void LogLoaded(ILogger logger, string model, string architecture, double parameters, int contextLength, string promptMode, int threads, int sequences, double loadMs, double warmupMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not load model {Model}")]
    private static partial void LogLoadFailed(ILogger logger, Exception exception, string model);
}
