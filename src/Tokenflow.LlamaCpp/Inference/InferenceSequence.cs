using System.Runtime.CompilerServices;
using System.Threading.Channels;
using LLama.Native;
using LLama.Sampling;
using Tokenflow.LlamaCpp.Grammar;

namespace Tokenflow.LlamaCpp.Inference;

/// <summary>
/// One request inside the engine: its prompt, its sampler, where it is in the shared context (a
/// llama.cpp sequence id and position), and the bounded queue of generated tokens its reader drains.
/// All state except the queue's reader side and <see cref="Cancel"/> belongs to the inference thread.
/// </summary>
internal sealed class InferenceSequence
{
    /// <summary>
    /// Tokens generated ahead of the reader. When the queue is full the sequence sits out decode steps
    /// (the others go on) until its reader catches up, so a slow reader never stalls the model.
    /// </summary>
    public const int QueueCapacity = 32;

    private readonly Channel<LLamaToken> _tokens = Channel.CreateBounded<LLamaToken>(new BoundedChannelOptions(QueueCapacity)
    {
        SingleReader = true,
        SingleWriter = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    private int _cancelled;
    private int _stalled;
    private long _cancelledAtStep = -1;
    private int _ended;

    public InferenceSequence(LLamaToken[] prompt, ISamplingPipeline sampler, int maxTokens, JsonValueEnd? valueEnd = null)
    {
        Prompt = prompt;
        Sampler = sampler;
        MaxTokens = maxTokens;
        ValueEnd = valueEnd;
    }

    /// <summary>For grammar-constrained JSON output: tells when the top-level value is complete, which ends the sequence.</summary>
    public JsonValueEnd? ValueEnd { get; }

    /// <summary>
    /// True when the model itself ended (an end-of-generation token, or the end of its grammar), false when a
    /// limit (max tokens, the context window) or the reader did; read once <see cref="Tokens"/> completed.
    /// </summary>
    public bool EndedByModel { get; set; }

    /// <summary>The prompt tokens, BOS included.</summary>
    public LLamaToken[] Prompt { get; }

    /// <summary>The request's sampler; disposed by the engine when the sequence ends.</summary>
    public ISamplingPipeline Sampler { get; }

    /// <summary>Tokens to generate at most.</summary>
    public int MaxTokens { get; }

    /// <summary>The llama.cpp sequence id while the sequence is admitted; -1 before.</summary>
    public int SequenceId { get; set; } = -1;

    /// <summary>Prompt tokens already put into a batch.</summary>
    public int PromptConsumed { get; set; }

    /// <summary>Tokens in the KV cache, which is the position of the next token.</summary>
    public int Position { get; set; }

    /// <summary>Tokens generated so far.</summary>
    public int Generated { get; set; }

    /// <summary>The last sampled token, still to be decoded, when <see cref="HasPending"/>.</summary>
    public LLamaToken Pending { get; set; }

    /// <summary>True when <see cref="Pending"/> waits to be decoded.</summary>
    public bool HasPending { get; set; }

    /// <summary>The batch index whose logits to sample after the current decode step; -1 for none.</summary>
    public int LogitsIndex { get; set; } = -1;

    /// <summary>True once ended: completed, failed or cancelled.</summary>
    public bool Ended => Volatile.Read(ref _ended) != 0;

    /// <summary>The generated tokens, for the request's reader.</summary>
    public ChannelReader<LLamaToken> Tokens => _tokens.Reader;

    /// <summary>True once the reader gave up (cancelled or disposed its enumerator).</summary>
    public bool IsCancelled => Volatile.Read(ref _cancelled) != 0;

    /// <summary>
    /// True when the reader has room for another token. When it has none, the sequence is marked stalled
    /// and the reader's next <see cref="TryRead"/> wakes the engine: one wake per stall, not one per token.
    /// </summary>
    public bool CanEmit
    {
        get
        {
            if (_tokens.Reader.Count < QueueCapacity)
            {
                return true;
            }

            Volatile.Write(ref _stalled, 1);

            // Look again: a read between the first look and the mark saw no mark and woke no one.
            return _tokens.Reader.Count < QueueCapacity;
        }
    }

    /// <summary>Called by the reader side after a read that unblocked a stalled sequence.</summary>
    public Action? OnUnstalled { get; init; }

    /// <summary>Takes the next generated token, waking the engine when this read made room for a stalled sequence; reader only.</summary>
    public bool TryRead(out LLamaToken token)
    {
        if (!_tokens.Reader.TryRead(out token))
        {
            return false;
        }

        if (Volatile.Read(ref _stalled) != 0 && Interlocked.Exchange(ref _stalled, 0) != 0)
        {
            OnUnstalled?.Invoke();
        }

        return true;
    }

    /// <summary>Reads every generated token until the sequence ends; reader only.</summary>
    public async IAsyncEnumerable<LLamaToken> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await _tokens.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (TryRead(out var token))
            {
                yield return token;
            }
        }
    }

    /// <summary>The engine's step count when the reader cancelled; -1 while not cancelled.</summary>
    public long CancelledAtStep => Volatile.Read(ref _cancelledAtStep);

    /// <summary>The engine's step count when the sequence left the batch and its KV cells were released; -1 before.</summary>
    public long FreedAtStep { get; set; } = -1;

    /// <summary>The last step whose batch carried a token of this sequence (prompt or generated); 0 for none.</summary>
    public long LastDecodedStep { get; set; }

    /// <summary>The step in which the last token was sampled (handed to the reader).</summary>
    public long LastEmittedStep { get; private set; }

    /// <summary>The most steps that passed between two consecutive tokens of this sequence (1 = every step).</summary>
    public long LargestStepGap { get; private set; }

    /// <summary>Steps this sequence had a token ready and a reader with room but no place in the batch.</summary>
    public int MissedSteps { get; set; }

    /// <summary>The engine's step count when the sequence got its slot; -1 before.</summary>
    public long AdmittedAtStep { get; set; } = -1;

    /// <summary>Steps that carried a chunk of this sequence's prompt.</summary>
    public int PrefillSteps { get; set; }

    /// <summary>Prompt tokens whose KV cells were reused from the previous request on the same slot.</summary>
    public int ReusedPromptTokens { get; set; }

    /// <summary>Marks the sequence abandoned by its reader at engine step <paramref name="step"/>; any thread.</summary>
    public void Cancel(long step = 0)
    {
        Interlocked.CompareExchange(ref _cancelledAtStep, step, -1);
        Volatile.Write(ref _cancelled, 1);
    }

    /// <summary>Hands a generated token, sampled after decode step <paramref name="step"/>, to the reader; only when <see cref="CanEmit"/>.</summary>
    public void Emit(LLamaToken token, long step)
    {
        if (Generated > 0)
        {
            LargestStepGap = Math.Max(LargestStepGap, step - LastEmittedStep);
        }

        LastEmittedStep = step;
        Generated++;
        _tokens.Writer.TryWrite(token);
    }

    /// <summary>Ends the token queue (with an error for the reader, if any) and frees the sampler; once.</summary>
    public void End(Exception? error = null)
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return;
        }

        _tokens.Writer.TryComplete(error);
        Sampler.Dispose();
    }
}
