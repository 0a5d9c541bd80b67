using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Tokenflow.Core.Backends;
using Tokenflow.LlamaCpp.Inference;
using Tokenflow.LlamaCpp.Native;

namespace Tokenflow.LlamaCpp.Tests.Backend;

/// <summary>
/// The engine's continuous batching on the real embedded model, asserted in decode steps (the engine's
/// step counter and per-sequence step records), never in time.
/// </summary>
public sealed class ContinuousBatchingTests
{
    private const int Chunk = 64;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_cancelled_sequence_leaves_the_batch_within_one_step()
    {
        using var engine = await StartAsync(new LlamaCppOptions { MaxConcurrentSequences = 4 });
        var others = Enumerable.Range(0, 3).Select(i => engine.Submit(Request("And it came to pass", 100_000, seed: i))).ToArray();
        var readers = others.Select(s => ReadAsync(s)).ToArray();
        var cancelled = engine.Submit(Request("In the beginning", 100_000, seed: 9));
        using var cts = new CancellationTokenSource(Timeout);

        var received = 0;
        while (received < 5 && await cancelled.Tokens.WaitToReadAsync(cts.Token))
        {
            while (received < 5 && cancelled.TryRead(out _))
            {
                received++;
            }
        }

        engine.Cancel(cancelled);
        await WaitUntilAsync(() => cancelled.FreedAtStep >= 0);

        // The other three still generate, so the engine kept stepping: the cancelled one was dropped
        // at the first step boundary, and no step after that boundary carried its tokens.
        Assert.True(cancelled.CancelledAtStep >= 0);
        Assert.InRange(cancelled.FreedAtStep - cancelled.CancelledAtStep, 0, 1);
        Assert.True(cancelled.LastDecodedStep <= cancelled.CancelledAtStep + 1, $"decoded in step {cancelled.LastDecodedStep}, cancelled at {cancelled.CancelledAtStep}");
        Assert.Equal(3, engine.ActiveSequenceCount);

        foreach (var other in others)
        {
            engine.Cancel(other);
        }

        await Task.WhenAll(readers).WaitAsync(Timeout);
        await WaitUntilAsync(() => engine.ActiveSequenceCount == 0);
    }

    [Fact]
    public async Task A_long_prompt_arriving_while_four_streams_run_is_read_in_chunks_between_their_tokens()
    {
        using var engine = await StartAsync(new LlamaCppOptions { MaxConcurrentSequences = 5, BatchSize = Chunk });
        var steps = new ConcurrentQueue<StepReport>();
        engine.StepObserver = steps.Enqueue;
        var running = Enumerable.Range(0, 4).Select(i => engine.Submit(Request("The LORD is my shepherd", 150, seed: i, temperature: 0))).ToArray();
        var readers = running.Select(s => ReadAsync(s)).ToArray();
        await WaitUntilAsync(() => running.All(s => s.Generated >= 4), () => string.Join(", ", running.Select(s => $"{s.Generated} generated, ended {s.Ended}, step {engine.StepCount}")));

        var longText = string.Join(' ', Enumerable.Repeat("and the children of Israel went up out of the land of Egypt", 40));
        var room = 8;
        var longPrompt = engine.Submit(Request(longText, room, seed: 5));
        var reading = ReadAsync(longPrompt);
        await WaitUntilAsync(() => reading.IsCompleted, () => $"long prompt: {longPrompt.PromptConsumed}/{longPrompt.Prompt.Length} read, {longPrompt.Generated} generated, ended {longPrompt.Ended}, id {longPrompt.SequenceId}, steps {engine.StepCount}, active {engine.ActiveSequenceCount}, last steps {string.Join(';', steps.TakeLast(3))}");
        var longTokens = await reading;
        await Task.WhenAll(readers).WaitAsync(Timeout);

        Assert.NotEmpty(longTokens);
        Assert.True(longPrompt.Prompt.Length > 3 * Chunk, $"prompt of {longPrompt.Prompt.Length} tokens");

        // The prompt went in over several steps, each at most one chunk (the batch size, less the
        // streams' own tokens), and no running stream ever lost its place in a step to it.
        Assert.True(longPrompt.PrefillSteps >= longPrompt.Prompt.Length / Chunk, $"{longPrompt.PrefillSteps} prefill steps");
        Assert.All(steps, step => Assert.InRange(step.PromptTokens, 0, Chunk));
        Assert.All(steps, step => Assert.InRange(step.Tokens, 0, Chunk));
        Assert.All(running, s => Assert.Equal(0, s.MissedSteps));
        var prefill = steps.Where(step => step.Step > longPrompt.AdmittedAtStep && step.Step <= longPrompt.AdmittedAtStep + longPrompt.PrefillSteps).ToList();
        Assert.Equal(longPrompt.PrefillSteps, prefill.Count);
        Assert.All(prefill, step => Assert.True(step.PromptTokens > 0, $"step {step.Step} carried no prompt tokens"));
        Assert.Contains(prefill, step => step.Tokens > step.PromptTokens);
        Assert.All(running, s => Assert.True(s.LastEmittedStep > longPrompt.AdmittedAtStep + longPrompt.PrefillSteps, "a stream ended before the long prompt was read"));
    }

    [Fact]
    public async Task Outputs_at_four_concurrent_sequences_equal_the_same_requests_one_at_a_time()
    {
        using var engine = await StartAsync(new LlamaCppOptions { MaxConcurrentSequences = 4 });
        BackendRequest[] Requests() =>
        [
            Request("In the beginning God created", 48, seed: 1, temperature: 0),
            Request("Blessed are the meek", 48, seed: 2, temperature: 0),
            Request("And the LORD spake unto Moses", 48, seed: 3, temperature: 1.0f),
            Request("The kingdom of heaven is like", 48, seed: 4, temperature: 0.8f),
        ];

        var alone = new List<List<int>>();
        foreach (var request in Requests())
        {
            alone.Add(await ReadAsync(engine.Submit(request)).WaitAsync(Timeout));
        }

        var together = await Task.WhenAll(Requests().Select(r => engine.Submit(r)).ToArray().Select(s => ReadAsync(s))).WaitAsync(Timeout);

        for (var i = 0; i < alone.Count; i++)
        {
            Assert.NotEmpty(alone[i]);
            Assert.Equal(alone[i], together[i]);
        }
    }

    [Fact]
    public async Task A_prompt_extending_the_previous_one_reuses_its_cells_and_gives_the_cold_output()
    {
        const string FirstTurn = "And God said, Let there be light: and there was light.";
        var options = new LlamaCppOptions { MaxConcurrentSequences = 1, WarmupTokens = 0 };
        List<int> warm;
        InferenceSequence second;
        string reply;
        using (var engine = await StartAsync(options))
        {
            var first = await ReadAsync(engine.Submit(Request(FirstTurn, 16, seed: 1, temperature: 0))).WaitAsync(Timeout);
            reply = Text(engine, first);
            second = engine.Submit(Request(FirstTurn + reply + " And God saw the light,", 24, seed: 1, temperature: 0.9f));
            warm = await ReadAsync(second).WaitAsync(Timeout);
        }

        List<int> cold;
        InferenceSequence fresh;
        using (var engine = await StartAsync(options))
        {
            fresh = engine.Submit(Request(FirstTurn + reply + " And God saw the light,", 24, seed: 1, temperature: 0.9f));
            cold = await ReadAsync(fresh).WaitAsync(Timeout);
        }

        Assert.Equal(second.Prompt, fresh.Prompt);
        Assert.True(second.ReusedPromptTokens > 8, $"reused {second.ReusedPromptTokens} of {second.Prompt.Length} prompt tokens");
        Assert.Equal(0, fresh.ReusedPromptTokens);
        Assert.NotEmpty(warm);
        Assert.Equal(cold, warm);
    }

    private static BackendRequest Request(string prompt, int maxTokens, long seed = 0, float temperature = 1.0f)
        => new() { Model = "tiny", Prompt = prompt, MaxTokens = maxTokens, Temperature = temperature, TopP = 0.95f, Seed = seed };

    private static async Task<LlamaCppEngine> StartAsync(LlamaCppOptions options)
    {
        LlamaNativeRuntime.EnsureInitialized(NullLoggerFactory.Instance);
        return await LlamaCppEngine.StartAsync(TestModel.RequirePath(), options, NullLogger.Instance).WaitAsync(Timeout);
    }

    private static async Task<List<int>> ReadAsync(InferenceSequence sequence)
    {
        using var cts = new CancellationTokenSource(Timeout);
        var tokens = new List<int>();
        try
        {
            await foreach (var token in sequence.ReadAllAsync(cts.Token))
            {
                tokens.Add((int)token);
            }
        }
        catch (OperationCanceledException) when (!cts.IsCancellationRequested)
        {
            // Cancelled by the test through the engine: the tokens so far are the answer.
        }

        return tokens;
    }

    private static string Text(LlamaCppEngine engine, List<int> tokens)
    {
        var bytes = new List<byte>();
        var buffer = new byte[64];
        foreach (var token in tokens)
        {
            var length = engine.TokenToPiece(token, ref buffer);
            bytes.AddRange(buffer.AsSpan(0, length));
        }

        return Encoding.UTF8.GetString([.. bytes]);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, Func<string>? state = null)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"condition not met within {Timeout}: {state?.Invoke()}");
            await Task.Delay(10);
        }
    }
}
