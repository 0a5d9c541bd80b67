using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Streams;
using Tokenflow.Upstreams;

namespace Tokenflow.Benchmarks;

/// <summary>
/// The gateway's share of a stream without sockets: a recorded upstream body (OpenAI SSE, Anthropic SSE or
/// Ollama NDJSON, <see cref="Tokens"/> content tokens) answered by an in-memory <see cref="HttpMessageHandler"/>,
/// parsed by the real <see cref="Upstream"/> and <see cref="UpstreamBackend"/>, run by the real
/// <see cref="GenerationRunner"/> into a memory store and read back to its terminal event. Reported per stream,
/// beside the same run with a backend that yields the same pieces from memory (the local path): the
/// difference is what the upstream parse costs. Run:
/// <c>dotnet run -c Release --project bench/Tokenflow.Benchmarks -- --filter *UpstreamStream* --job short --inProcess</c>
/// </summary>
[MemoryDiagnoser]
public class UpstreamStreamBenchmarks
{
    private byte[][] _words = [];

    private GenerationRunner _runner = null!;
    private MemoryStreamStore _store = null!;
    private ModelEntry _openAi = null!, _anthropic = null!, _ollama = null!, _local = null!;
    private Upstream[] _upstreams = [];

    /// <summary>Content tokens per stream: the per-token cost is the slope between the two.</summary>
    [Params(50, 500)]
    public int Tokens { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _words = [.. Enumerable.Range(0, Tokens).Select(i => Encoding.UTF8.GetBytes(i % 7 == 0 ? " café" : " token"))];
        _store = new MemoryStreamStore(Options.Create(new StreamStoreOptions { MaxBytes = 1L << 40, MaxEventsPerStream = int.MaxValue, CompletedTtl = TimeSpan.FromSeconds(1) }), TimeProvider.System);
        _runner = new GenerationRunner(_store, TimeProvider.System, NullLogger<GenerationRunner>.Instance);
        _openAi = Entry("openai", OpenAiBody());
        _anthropic = Entry("anthropic", AnthropicBody());
        _ollama = Entry("ollama", OllamaBody());
        _local = new ModelEntry("local", "bench", new MemoryBackend(_words));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var upstream in _upstreams)
        {
            upstream.Dispose();
        }

        _store.Dispose();
    }

    /// <summary>The local path: the same pieces from memory, through the runner into the store and out of a reader.</summary>
    [Benchmark(Baseline = true)]
    public Task<int> LocalPieces() => RunAsync(_local);

    [Benchmark]
    public Task<int> OpenAiSse() => RunAsync(_openAi);

    [Benchmark]
    public Task<int> AnthropicSse() => RunAsync(_anthropic);

    [Benchmark]
    public Task<int> OllamaNdjson() => RunAsync(_ollama);

    private async Task<int> RunAsync(ModelEntry model)
    {
        var request = new BackendRequest { Model = model.Id, Messages = [new ChatMessage("user", "hi")], MaxTokens = Tokens * 2 };
        // A finished stream stays readable for a second (the store's sweeper then evicts it): the reader may open after the end.
        var start = await _runner.StartAsync(model, request, new GenerationOptions { MaxTokens = Tokens * 2 }, default).ConfigureAwait(false);
        var (_, opened) = await _store.OpenReaderAsync(start.StreamId!, 0, default).ConfigureAwait(false);
        var reader = opened ?? throw new InvalidOperationException("The stream was not created.");
        await using (reader.ConfigureAwait(false))
        {
            var deltas = 0;
            while (await reader.WaitToReadAsync(default).ConfigureAwait(false))
            {
                while (reader.TryRead(out var e))
                {
                    if (e.IsTerminal)
                    {
                        if (e.Kind != StreamEventKind.Done || deltas == 0)
                        {
                            throw new InvalidOperationException($"The stream ended with {e.Kind} after {deltas} deltas.");
                        }

                        return deltas;
                    }

                    deltas += e.Kind == StreamEventKind.Delta ? 1 : 0;
                }
            }

            throw new InvalidOperationException("The stream ended without a terminal event.");
        }
    }

    private ModelEntry Entry(string kind, byte[] body)
    {
        var options = new UpstreamOptions { Kind = kind, Url = "http://upstream.invalid/v1" };
        var upstream = new Upstream(kind, 0, options, TimeProvider.System, new RecordedHandler(body));
        _upstreams = [.. _upstreams, upstream];
        return new ModelEntry(kind, "bench", new UpstreamBackend([new UpstreamRoute(upstream, "m")], NullLogger.Instance));
    }

    private static string Json(byte[] word) => System.Text.Json.JsonSerializer.Serialize(Encoding.UTF8.GetString(word));

    private byte[] OpenAiBody()
    {
        var body = new StringBuilder();
        const string head = """data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1694268190,"model":"m","system_fingerprint":"fp_1","choices":[{"index":0,"delta":""";
        body.Append(head).Append("""{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}""").Append("\n\n");
        foreach (var word in _words)
        {
            body.Append(head).Append("{\"content\":").Append(Json(word)).Append("""},"logprobs":null,"finish_reason":null}]}""").Append("\n\n");
        }

        body.Append(head).Append("""{},"logprobs":null,"finish_reason":"stop"}]}""").Append("\n\n");
        body.Append($$$"""data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1694268190,"model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":{{{Tokens}}},"total_tokens":{{{Tokens + 5}}}}}""").Append("\n\n");
        return Encoding.UTF8.GetBytes(body.Append("data: [DONE]\n\n").ToString());
    }

    private byte[] AnthropicBody()
    {
        var body = new StringBuilder();
        body.Append("event: message_start\ndata: ").Append("""{"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","content":[],"model":"m","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}""").Append("\n\n");
        body.Append("event: content_block_start\ndata: ").Append("""{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}""").Append("\n\n");
        foreach (var word in _words)
        {
            body.Append("event: content_block_delta\ndata: ").Append("""{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":""").Append(Json(word)).Append("}}\n\n");
        }

        body.Append("event: content_block_stop\ndata: ").Append("""{"type":"content_block_stop","index":0}""").Append("\n\n");
        body.Append("event: message_delta\ndata: ").Append($$$"""{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":{{{Tokens}}}}}""").Append("\n\n");
        return Encoding.UTF8.GetBytes(body.Append("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n").ToString());
    }

    private byte[] OllamaBody()
    {
        var body = new StringBuilder();
        foreach (var word in _words)
        {
            body.Append("""{"model":"m","created_at":"2025-05-01T10:00:00.000Z","message":{"role":"assistant","content":""").Append(Json(word)).Append("},\"done\":false}\n");
        }

        body.Append($$"""{"model":"m","created_at":"2025-05-01T10:00:01.000Z","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"prompt_eval_count":5,"eval_count":{{Tokens}}}""").Append('\n');
        return Encoding.UTF8.GetBytes(body.ToString());
    }

    /// <summary>Answers every request with the recorded body, as a streamed 200 response.</summary>
    private sealed class RecordedHandler(byte[] body) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new MemoryStream(body, writable: false)), RequestMessage = request });
    }

    /// <summary>The local path's backend: the same words, one piece each, from memory.</summary>
    private sealed class MemoryBackend(byte[][] words) : IModelBackend
    {
        public async IAsyncEnumerable<TokenPiece> GenerateAsync(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.Yield();
            foreach (var word in words)
            {
                yield return new TokenPiece(word);
            }

            request.FinishReason = FinishReason.Stop;
        }
    }
}
