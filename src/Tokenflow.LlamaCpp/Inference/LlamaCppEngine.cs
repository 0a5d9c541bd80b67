using System.Collections.Concurrent;
using System.Diagnostics;
using LLama;
using LLama.Common;
using LLama.Native;
using LLama.Sampling;
using Microsoft.Extensions.Logging;
using Tokenflow.Core.Backends;
using Tokenflow.LlamaCpp.Grammar;

namespace Tokenflow.LlamaCpp.Inference;

/// <summary>
/// One loaded model and one shared llama.cpp context, driven by a dedicated inference thread that
/// generates for up to <see cref="LlamaCppOptions.MaxConcurrentSequences"/> requests at once: every
/// decode step carries the next token of each generating request plus chunks of the prompts being read,
/// up to <see cref="LlamaCppOptions.BatchSize"/> tokens. Each request is one llama.cpp sequence (a slot)
/// with its own KV cells (non-unified KV cache, <see cref="ContextLength"/> cells each); when it ends its
/// cells stay with the slot, and the next request whose prompt starts with the same tokens reuses them.
/// </summary>
/// <remarks>
/// This is LLamaSharp's <c>BatchedExecutor</c>/<c>Conversation</c> pattern written out for a server:
/// <c>BatchedExecutor.Infer</c> decodes through <c>Task.Run</c> (a thread-pool thread busy for the whole
/// decode) and its conversations must be sampled before the next <c>Infer</c>, which a shared loop cannot
/// promise while readers come and go. Here the one thread that owns the context decodes synchronously,
/// samples every sequence after each step, and frees a cancelled sequence's KV cells before the next step.
/// </remarks>
internal sealed partial class LlamaCppEngine : IDisposable
{
    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;
    private readonly SafeLlamaModelHandle.Vocabulary _vocab;
    private readonly LlamaCppOptions _options;
    private readonly ILogger _logger;
    private readonly Thread _thread;
    private readonly ConcurrentQueue<InferenceSequence> _incoming = new();
    private readonly Queue<InferenceSequence> _waiting = new();
    private readonly List<InferenceSequence> _active = [];
    private readonly List<int> _freeSequenceIds = [];
    private readonly LLamaToken[][] _slotTokens;
    private readonly int[] _slotLengths;
    private readonly LLamaBatch _batch = new();
    private readonly ManualResetEventSlim _wake = new(false);
    private readonly int _batchSize;
    private readonly Action _wakeAction;
    private byte[] _pieceBuffer = new byte[64];
    private volatile bool _stopping;
    private volatile bool _closed;
    private int _activeCount;
    private long _steps;
    private EngineProfile _profile;
    private int _promptTokensInStep;

    private LlamaCppEngine(string path, LlamaCppOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
        _wakeAction = Wake;
        _thread = Thread.CurrentThread;
        var parameters = new ModelParams(path)
        {
            GpuLayerCount = 0,
            BatchSize = (uint)options.BatchSize,
            UBatchSize = (uint)options.BatchSize,

            // One KV stream per sequence: each request gets the whole window and attends only over its
            // own cells, which llama.cpp recommends for parallel sequences that share no prefix.
            KVUnified = false,
        };
        _weights = LLamaWeights.LoadFromFile(parameters);
        try
        {
            TrainedContextLength = _weights.ContextSize;
            Threads = LlamaCppOptions.ResolveThreads(options.Threads, _weights.ParameterCount, Environment.ProcessorCount);
            parameters.Threads = Threads;
            parameters.BatchThreads = Threads;
            Sequences = LlamaCppOptions.ResolveSequences(options.MaxConcurrentSequences, _weights.ParameterCount, options.BatchSize);
            parameters.SeqMax = (uint)Sequences;
            var window = options.ContextSize > 0
                ? options.ContextSize
                : Math.Min(TrainedContextLength > 0 ? TrainedContextLength : LlamaCppOptions.DefaultContextCap, LlamaCppOptions.DefaultContextCap);
            parameters.ContextSize = (uint)(window * Sequences);
            _context = _weights.CreateContext(parameters);
            ContextLength = Math.Min(window, (int)(_context.ContextSize / (uint)Sequences));
            _batchSize = (int)Math.Min(_context.BatchSize, (uint)options.BatchSize);
        }
        catch
        {
            _weights.Dispose();
            throw;
        }

        _vocab = _weights.Vocab;
        Prompts = new PromptBuilder(_weights, logger);
        _slotTokens = new LLamaToken[Sequences][];
        _slotLengths = new int[Sequences];
        for (var id = 0; id < Sequences; id++)
        {
            _freeSequenceIds.Add(id);
            _slotTokens[id] = new LLamaToken[ContextLength + 1];
        }
    }

    /// <summary>The context window of each request, in tokens.</summary>
    public int ContextLength { get; }

    /// <summary>The context length the model was trained with (GGUF metadata).</summary>
    public int TrainedContextLength { get; }

    /// <summary>The model's parameter count.</summary>
    public ulong ParameterCount => _weights.ParameterCount;

    /// <summary>Sequences holding a place (and KV cells) in the context right now; for tests and diagnostics.</summary>
    public int ActiveSequenceCount => Volatile.Read(ref _activeCount);

    /// <summary>
    /// Decode steps completed so far (one <c>llama_decode</c> each); sequences record it when they are
    /// cancelled, freed and decoded, so tests count steps instead of measuring time.
    /// </summary>
    public long StepCount => Volatile.Read(ref _steps);

    /// <summary>Requests that generate together (<see cref="LlamaCppOptions.MaxConcurrentSequences"/> resolved).</summary>
    public int Sequences { get; }

    /// <summary>The llama.cpp threads the context computes with (<see cref="LlamaCppOptions.Threads"/> resolved).</summary>
    public int Threads { get; }

    /// <summary>Called on the inference thread after each decode step (tests only; must be fast).</summary>
    internal Action<StepReport>? StepObserver { get; set; }

    /// <summary>Builds prompt tokens for requests.</summary>
    public PromptBuilder Prompts { get; }

    /// <summary>
    /// Loads the model on a new inference thread, which then serves requests until
    /// <see cref="Dispose"/>. Completes when the model is loaded.
    /// </summary>
    public static Task<LlamaCppEngine> StartAsync(string path, LlamaCppOptions options, ILogger logger)
    {
        var loaded = new TaskCompletionSource<LlamaCppEngine>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            LlamaCppEngine engine;
            try
            {
                engine = new LlamaCppEngine(path, options, logger);
            }
            catch (Exception ex)
            {
                loaded.SetException(ex);
                return;
            }

            loaded.SetResult(engine);
            engine.Run();
        })
        {
            IsBackground = true,
            Name = "llama.cpp inference",
        };
        thread.Start();
        return loaded.Task;
    }

    /// <summary>
    /// Queues a request: tokenizes its prompt (on the calling thread) and returns its sequence, whose
    /// tokens arrive on <see cref="InferenceSequence.Tokens"/>.
    /// </summary>
    /// <param name="request">The request.</param>
    /// <param name="constraint">The grammar its output must follow, if any.</param>
    /// <exception cref="InvalidGrammarException">llama.cpp rejects the constraint's grammar.</exception>
    public InferenceSequence Submit(BackendRequest request, OutputConstraint? constraint = null)
    {
        // Leave room to generate: the requested tokens, but never more than half the window.
        var room = Math.Clamp(request.MaxTokens, 1, Math.Max(1, ContextLength / 2));
        var prompt = Prompts.Build(request, ContextLength - room, constraint);
        if (constraint is null)
        {
            return Submit(prompt, CreateSampler(request), request.MaxTokens, null);
        }

        if (!LlamaGrammarNative.Parses(_weights.NativeHandle, constraint.Grammar))
        {
            throw new InvalidGrammarException(constraint.Grammar);
        }

        var sampler = new GrammarSamplingPipeline
        {
            Grammar = constraint.Grammar,
            Temperature = request.Temperature ?? _options.DefaultTemperature,
            TopP = request.TopP ?? _options.DefaultTopP,
            Seed = SeedOf(request),
        };
        return Submit(prompt, sampler, request.MaxTokens, new JsonValueEnd());
    }

    private InferenceSequence Submit(LLamaToken[] prompt, ISamplingPipeline sampler, int maxTokens, JsonValueEnd? valueEnd)
    {
        var sequence = new InferenceSequence(prompt, sampler, Math.Max(1, maxTokens), valueEnd) { OnUnstalled = _wakeAction };
        _incoming.Enqueue(sequence);
        if (_closed)
        {
            // The inference thread is gone (or going): it will not see this sequence.
            FailIncoming(new ObjectDisposedException(nameof(LlamaCppEngine)));
        }

        _wake.Set();
        return sequence;
    }

    /// <summary>Tells the inference thread that there is work: a new request, a cancel, or room in a stalled reader's queue.</summary>
    public void Wake() => _wake.Set();

    /// <summary>Marks <paramref name="sequence"/> abandoned by its reader (it leaves the batch before the next step); any thread.</summary>
    public void Cancel(InferenceSequence sequence)
    {
        if (!sequence.Ended)
        {
            sequence.Cancel(StepCount);
            _wake.Set();
        }
    }

    /// <summary>
    /// Writes the bytes of <paramref name="token"/> (raw, possibly part of a UTF-8 character) into
    /// <paramref name="buffer"/>, growing it when needed; returns their count. Any thread.
    /// </summary>
    public int TokenToPiece(LLamaToken token, ref byte[] buffer)
    {
        var length = (int)_weights.NativeHandle.TokenToSpan(token, buffer);
        if (length > buffer.Length)
        {
            buffer = new byte[Math.Max(length, buffer.Length * 2)];
            length = (int)_weights.NativeHandle.TokenToSpan(token, buffer);
        }

        return length;
    }

    /// <summary>Stops the inference thread (ending every queued request) and frees the model.</summary>
    public void Dispose()
    {
        _stopping = true;
        _wake.Set();
        if (Thread.CurrentThread != _thread)
        {
            // The thread frees the native context and weights itself once its current decode step ends.
            _thread.Join(TimeSpan.FromSeconds(30));
        }
    }

    private ISamplingPipeline CreateSampler(BackendRequest request)
    {
        var temperature = request.Temperature ?? _options.DefaultTemperature;
        if (temperature <= 0)
        {
            return new GreedySamplingPipeline();
        }

        return new DefaultSamplingPipeline
        {
            Temperature = temperature,
            TopP = request.TopP ?? _options.DefaultTopP,
            MinP = 0.05f,
            TopK = 40,
            Seed = SeedOf(request),
        };
    }

    private static uint SeedOf(BackendRequest request)
        => request.Seed is { } seed ? unchecked((uint)(seed ^ (seed >> 32))) : (uint)Random.Shared.NextInt64(uint.MaxValue + 1L);

    private void Run()
    {
        try
        {
            while (!_stopping)
            {
                // Reset before looking for work, so a Wake() that races with the look is not lost.
                _wake.Reset();
                var started = Stopwatch.GetTimestamp();
                AdmitAndReap();
                if (!FillBatch())
                {
                    if (_active.Count == 0 && _profile.Steps > 0)
                    {
                        LogProfile(_logger, _profile.Steps, _profile.Tokens, _profile.Sampled, _profile.Microseconds(_profile.FillTicks), _profile.Microseconds(_profile.DecodeTicks),
                            _profile.Microseconds(_profile.SampleTicks), _profile.Microseconds(_profile.WaitTicks), _profile.ReaderStalls);
                        _profile = default;
                    }

                    _wake.Wait();
                    _profile.WaitTicks += Stopwatch.GetTimestamp() - started;
                    continue;
                }

                var filled = Stopwatch.GetTimestamp();
                var result = _context.Decode(_batch);
                var decoded = Stopwatch.GetTimestamp();
                if (result != DecodeResult.Ok)
                {
                    EndAll(new InvalidOperationException($"llama.cpp could not decode the batch ({result})."));
                    continue;
                }

                var step = Interlocked.Increment(ref _steps);
                var sampled = SampleBatched(step);
                _profile.Steps++;
                _profile.Tokens += _batch.TokenCount;
                _profile.Sampled += sampled;
                _profile.FillTicks += filled - started;
                _profile.DecodeTicks += decoded - filled;
                _profile.SampleTicks += Stopwatch.GetTimestamp() - decoded;
                StepObserver?.Invoke(new StepReport(step, _batch.TokenCount, _promptTokensInStep, _active.Count));
            }
        }
        catch (Exception ex)
        {
            LogInferenceFailed(_logger, ex);
            EndAll(ex);
        }
        finally
        {
            _closed = true;
            var disposed = new ObjectDisposedException(nameof(LlamaCppEngine), "The model was unloaded.");
            foreach (var sequence in _active.Concat(_waiting))
            {
                sequence.End(disposed);
            }

            _active.Clear();
            _waiting.Clear();
            Volatile.Write(ref _activeCount, 0);
            FailIncoming(disposed);
            _context.Dispose();
            _weights.Dispose();
        }
    }

    private void FailIncoming(Exception error)
    {
        while (_incoming.TryDequeue(out var sequence))
        {
            sequence.End(error);
        }
    }

    /// <summary>Frees the sequences whose readers left and admits waiting ones while ids are free.</summary>
    private void AdmitAndReap()
    {
        for (var i = _active.Count - 1; i >= 0; i--)
        {
            if (_active[i].IsCancelled || _active[i].Ended)
            {
                Free(_active[i]);
                _active.RemoveAt(i);
            }
        }

        while (_incoming.TryDequeue(out var sequence))
        {
            _waiting.Enqueue(sequence);
        }

        while (_waiting.Count > 0 && (_waiting.Peek().IsCancelled || _freeSequenceIds.Count > 0))
        {
            var sequence = _waiting.Dequeue();
            if (sequence.IsCancelled)
            {
                sequence.End();
                continue;
            }

            Admit(sequence);
            _active.Add(sequence);
        }

        Volatile.Write(ref _activeCount, _active.Count);
    }

    /// <summary>
    /// Gives <paramref name="sequence"/> the free slot (llama.cpp sequence id) whose KV cells hold the
    /// longest prefix of its prompt, keeps those cells and drops the rest, so a multi-turn request whose
    /// prompt extends the previous one reads only its new tokens. The context is never re-created.
    /// </summary>
    private void Admit(InferenceSequence sequence)
    {
        var best = 0;
        var common = -1;
        for (var i = 0; i < _freeSequenceIds.Count; i++)
        {
            var id = _freeSequenceIds[i];
            var shared = _slotTokens[id].AsSpan(0, _slotLengths[id]).CommonPrefixLength(sequence.Prompt);
            if (shared > common)
            {
                (best, common) = (i, shared);
            }
        }

        var slot = _freeSequenceIds[best];
        _freeSequenceIds.RemoveAt(best);

        // The last prompt token is decoded again in any case: its logits give the first new token.
        var reused = Math.Min(common, sequence.Prompt.Length - 1);
        var memory = _context.NativeHandle;
        memory.MemorySequenceRemove((LLamaSeqId)slot, reused, -1);
        if (reused > 0 && (memory.MemorySequenceMinPosition((LLamaSeqId)slot).Value != 0 || memory.MemorySequenceMaxPosition((LLamaSeqId)slot).Value != reused - 1))
        {
            // The cells are not exactly the prefix (a sliding-window or recurrent model keeps fewer):
            // start from an empty slot.
            memory.MemorySequenceRemove((LLamaSeqId)slot, -1, -1);
            reused = 0;
        }

        _slotLengths[slot] = reused;
        sequence.SequenceId = slot;
        sequence.Position = reused;
        sequence.PromptConsumed = reused;
        sequence.ReusedPromptTokens = reused;
        sequence.AdmittedAtStep = _steps;
    }

    /// <summary>
    /// Puts the next work into the batch: the pending token of every generating sequence whose reader
    /// has room, then prompt chunks in arrival order. False when there is nothing to decode.
    /// </summary>
    private bool FillBatch()
    {
        _batch.Clear();
        _promptTokensInStep = 0;
        var step = _steps + 1;
        var budget = _batchSize;
        foreach (var sequence in _active)
        {
            sequence.LogitsIndex = -1;
            if (!sequence.HasPending)
            {
                continue;
            }

            if (!sequence.CanEmit)
            {
                // Its reader is 32 tokens behind: it sits out this step, the others go on.
                _profile.ReaderStalls++;
                continue;
            }

            if (budget == 0)
            {
                sequence.MissedSteps++;
                continue;
            }

            _slotTokens[sequence.SequenceId][sequence.Position] = sequence.Pending;
            sequence.LogitsIndex = _batch.Add(sequence.Pending, sequence.Position++, (LLamaSeqId)sequence.SequenceId, true);
            sequence.HasPending = false;
            sequence.LastDecodedStep = step;
            budget--;
        }

        foreach (var sequence in _active)
        {
            var remaining = sequence.Prompt.Length - sequence.PromptConsumed;
            if (remaining == 0 || budget == 0)
            {
                continue;
            }

            var take = Math.Min(remaining, budget);
            sequence.PrefillSteps++;
            sequence.LastDecodedStep = step;
            _promptTokensInStep += take;
            for (var i = 0; i < take; i++)
            {
                var last = sequence.PromptConsumed + 1 == sequence.Prompt.Length;
                var token = sequence.Prompt[sequence.PromptConsumed++];
                _slotTokens[sequence.SequenceId][sequence.Position] = token;
                var index = _batch.Add(token, sequence.Position++, (LLamaSeqId)sequence.SequenceId, last);
                if (last)
                {
                    sequence.LogitsIndex = index;
                }
            }

            budget -= take;
        }

        return _batch.TokenCount > 0;
    }

    /// <summary>Samples the next token of every sequence that got logits in the last decode step; returns how many.</summary>
    private int SampleBatched(long step)
    {
        var sampled = 0;
        foreach (var sequence in _active)
        {
            if (sequence.LogitsIndex < 0 || sequence.IsCancelled)
            {
                continue;
            }

            sampled++;

            try
            {
                var token = sequence.Sampler.Sample(_context.NativeHandle, sequence.LogitsIndex);
                if (token.IsEndOfGeneration(_vocab))
                {
                    sequence.EndedByModel = true;
                    sequence.End();
                    continue;
                }

                sequence.Emit(token, step);

                // The grammar allows nothing after the top-level value: end now rather than decode once more
                // only to sample the end-of-generation token.
                if (sequence.ValueEnd is { } valueEnd)
                {
                    // Length first: TokenToPiece may replace the buffer.
                    var length = TokenToPiece(token, ref _pieceBuffer);
                    if (valueEnd.Feed(_pieceBuffer.AsSpan(0, length)))
                    {
                        sequence.EndedByModel = true;
                        sequence.End();
                        continue;
                    }
                }

                // Full window: prompt plus generated tokens fill it (this token is not decoded, but clients
                // count it, so usage never exceeds the context length).
                if (sequence.Generated >= sequence.MaxTokens || sequence.Position + 1 >= ContextLength)
                {
                    sequence.End();
                    continue;
                }

                sequence.Pending = token;
                sequence.HasPending = true;
            }
            catch (Exception ex)
            {
                sequence.End(ex);
            }
        }

        return sampled;
    }

    private void EndAll(Exception error)
    {
        // Unexpected (every sequence has its own KV cells, so "no KV slot" cannot happen): the KV state
        // of the batch's sequences is unknown, so they all end; the next step frees their cells.
        foreach (var sequence in _active)
        {
            sequence.Position = 0;
            sequence.End(error);
        }
    }

    /// <summary>
    /// Returns the sequence's slot. Its KV cells stay, remembered by token, for the next request whose
    /// prompt starts the same way (<see cref="Admit"/>); after a failed step (position reset) they are dropped.
    /// </summary>
    private void Free(InferenceSequence sequence)
    {
        sequence.End();
        var slot = sequence.SequenceId;
        _slotLengths[slot] = sequence.Position;
        if (sequence.Position == 0)
        {
            _context.NativeHandle.MemorySequenceRemove((LLamaSeqId)slot, -1, -1);
        }

        _freeSequenceIds.Add(slot);
        sequence.SequenceId = -1;
        sequence.FreedAtStep = _steps;
    }

    [LoggerMessage(Level = LogLevel.Debug,
        Message = "llama.cpp engine went idle after {Steps} decode steps ({Tokens} tokens decoded, {Sampled} sampled): fill {FillUs:0} µs, decode {DecodeUs:0} µs, sample {SampleUs:0} µs, idle {WaitUs:0} µs in total; {ReaderStalls} times a sequence sat out a step for its reader")]
    private static partial void LogProfile(ILogger logger, long steps, long tokens, long sampled, double fillUs, double decodeUs, double sampleUs, double waitUs, long readerStalls);

    [LoggerMessage(Level = LogLevel.Error, Message = "The llama.cpp inference loop failed; the model is unusable until reloaded")]
    private static partial void LogInferenceFailed(ILogger logger, Exception exception);
}

/// <summary>What one decode step carried, reported to <see cref="LlamaCppEngine.StepObserver"/>.</summary>
/// <param name="Step">The step's number (1, 2, …).</param>
/// <param name="Tokens">Tokens in its batch.</param>
/// <param name="PromptTokens">Of those, prompt tokens (prefill chunks).</param>
/// <param name="Active">Sequences admitted during the step.</param>
internal readonly record struct StepReport(long Step, int Tokens, int PromptTokens, int Active);

/// <summary>Where the inference thread's time went since it last went idle (Stopwatch ticks; inference thread only).</summary>
internal struct EngineProfile
{
    public long Steps;
    public long Tokens;
    public long Sampled;
    public long FillTicks;
    public long DecodeTicks;
    public long SampleTicks;
    public long WaitTicks;
    public long ReaderStalls;

    public readonly double Microseconds(long ticks) => ticks * 1e6 / Stopwatch.Frequency;
}
