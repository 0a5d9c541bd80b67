using System.Diagnostics;
using System.Text;
using Tokenflow.Core.Backends;
using Tokenflow.LlamaCpp.Native;

namespace Tokenflow.LlamaCpp.Tests.Backend;

/// <summary>Loads the embedded model once for the tests of a class.</summary>
public sealed class TinyModelFixture : IAsyncLifetime
{
    private LlamaCppBackend? _backend;

    public LlamaCppBackend Backend => _backend ?? throw new InvalidOperationException("Not loaded.");

    public async Task InitializeAsync()
    {
        _backend = new LlamaCppBackend(ModelReference.Parse(TestModel.RequirePath()), new LlamaCppOptions { MaxConcurrentSequences = 4 });
        await _backend.LoadAsync();
    }

    public Task DisposeAsync()
    {
        _backend?.Dispose();
        return Task.CompletedTask;
    }
}

public sealed class LlamaCppBackendTests(TinyModelFixture model) : IClassFixture<TinyModelFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Completion_produces_text_and_counts_prompt_tokens()
    {
        var request = new BackendRequest { Model = "tiny", Prompt = "In the beginning God created", MaxTokens = 24, Temperature = 0 };

        var result = await GenerateAsync(model.Backend, request);

        Assert.True(request.PromptTokens > 0);
        Assert.InRange(result.Tokens.Count, 1, 24);
        Assert.NotEmpty(result.Text);
        Assert.All(result.Tokens, id => Assert.True(id >= 0));
    }

    [Fact]
    public async Task Chat_messages_without_a_template_become_a_plain_prompt()
    {
        var request = new BackendRequest
        {
            Model = "tiny",
            Messages = [new ChatMessage("system", "The words of the book."), new ChatMessage("user", "And the LORD said unto Moses,")],
            MaxTokens = 8,
            Temperature = 0,
        };

        var result = await GenerateAsync(model.Backend, request);

        Assert.True(request.PromptTokens > 5);
        Assert.NotEmpty(result.Tokens);
    }

    [Fact]
    public async Task Same_seed_and_temperature_give_the_same_tokens()
    {
        BackendRequest Request() => new() { Model = "tiny", Prompt = "Blessed are the", MaxTokens = 32, Temperature = 1.0f, TopP = 0.95f, Seed = 1234 };

        var first = await GenerateAsync(model.Backend, Request());
        var second = await GenerateAsync(model.Backend, Request());
        var other = await GenerateAsync(model.Backend, new BackendRequest { Model = "tiny", Prompt = "Blessed are the", MaxTokens = 32, Temperature = 1.0f, TopP = 0.95f, Seed = 99 });

        Assert.Equal(first.Tokens, second.Tokens);
        Assert.Equal(first.Text, second.Text);
        Assert.NotEqual(first.Tokens, other.Tokens);
    }

    [Fact]
    public async Task Cancellation_stops_within_a_token_and_frees_the_sequence()
    {
        using var cts = new CancellationTokenSource();
        var request = new BackendRequest { Model = "tiny", Prompt = "And it came to pass", MaxTokens = 100_000, Temperature = 1.0f, Seed = 7 };
        var received = 0;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in model.Backend.GenerateAsync(request, cts.Token))
            {
                if (++received == 3)
                {
                    cts.Cancel();
                }
            }
        });

        // No token after the cancel: it stops within a token (ContinuousBatchingTests counts the engine's steps).
        Assert.Equal(3, received);
        await WaitUntilAsync(() => model.Backend.ActiveSequenceCount == 0);
    }

    [Fact]
    public async Task Abandoned_enumeration_frees_the_sequence()
    {
        var request = new BackendRequest { Model = "tiny", Prompt = "And God said", MaxTokens = 100_000, Temperature = 1.0f, Seed = 3 };

        await foreach (var _ in model.Backend.GenerateAsync(request, CancellationToken.None))
        {
            break;
        }

        await WaitUntilAsync(() => model.Backend.ActiveSequenceCount == 0);
    }

    [Fact]
    public async Task Concurrent_generations_both_complete()
    {
        var a = new BackendRequest { Model = "tiny", Prompt = "In the beginning", MaxTokens = 40, Temperature = 0.8f, Seed = 1 };
        var b = new BackendRequest { Model = "tiny", Messages = [new ChatMessage("user", "The kingdom of heaven is like")], MaxTokens = 40, Temperature = 0.8f, Seed = 2 };

        var results = await Task.WhenAll(GenerateAsync(model.Backend, a), GenerateAsync(model.Backend, b));

        Assert.All(results, r => Assert.NotEmpty(r.Tokens));
        Assert.True(a.PromptTokens > 0 && b.PromptTokens > 0);
    }

    [Fact]
    public async Task More_requests_than_sequences_wait_their_turn_and_all_complete()
    {
        var requests = Enumerable.Range(0, 7)
            .Select(i => new BackendRequest { Model = "tiny", Prompt = "Hello, how are you today?", MaxTokens = 12, Temperature = 0.7f, Seed = i })
            .ToArray();

        var results = await Task.WhenAll(requests.Select(r => GenerateAsync(model.Backend, r)));

        Assert.All(results, r => Assert.NotEmpty(r.Tokens));
    }

    [Fact]
    public void Native_environment_has_passive_omp_wait_policy()
        => Assert.Equal(
            Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") ?? "PASSIVE",
            LlamaNativeRuntime.GetNativeEnvironmentVariable("OMP_WAIT_POLICY"));

    [Fact]
    public void Context_length_is_known_from_the_gguf_before_loading()
    {
        using var backend = new LlamaCppBackend(ModelReference.Parse(TestModel.RequirePath()), new LlamaCppOptions());

        Assert.False(backend.IsLoaded);
        Assert.Equal(model.Backend.ContextLength, backend.ContextLength);
        Assert.InRange(backend.ContextLength, 16, LlamaCppOptions.DefaultContextCap);
    }

    internal static async Task<(string Text, List<int> Tokens)> GenerateAsync(IModelBackend backend, BackendRequest request)
    {
        using var cts = new CancellationTokenSource(Timeout);
        var bytes = new List<byte>();
        var tokens = new List<int>();
        await foreach (var piece in backend.GenerateAsync(request, cts.Token))
        {
            bytes.AddRange(piece.Utf8.Span);
            tokens.Add(piece.TokenId);
        }

        return (Encoding.UTF8.GetString([.. bytes]), tokens);
    }

    internal static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(Stopwatch.Frequency * Timeout.TotalSeconds);
        while (!condition())
        {
            Assert.True(Stopwatch.GetTimestamp() < deadline, "condition not met in time");
            await Task.Delay(10);
        }
    }
}
