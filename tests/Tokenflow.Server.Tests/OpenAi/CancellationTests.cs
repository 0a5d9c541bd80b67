using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Streams;

namespace Tokenflow.Server.Tests.OpenAi;

public sealed class CancellationTests
{
    /// <summary>Waits until the stream reaches a final state (polling its status with a deadline).</summary>
    internal static async Task<StreamStatus> WaitForEndAsync(IStreamStore store, string id, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var status = await store.GetStatusAsync(id, CancellationToken.None);
            Assert.NotNull(status);
            if (status.State != StreamState.Running || DateTime.UtcNow > deadline)
            {
                return status;
            }

            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task A_client_that_disconnects_stops_the_backend_after_the_grace_period()
    {
        var counter = new CountingBackend();
        await using var server = await TestServer.StartAsync(configure: b => b.Services.AddSingleton(new ModelEntry("counted", "test", counter)));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = ChatCompletionsStreamingTests.Body(new { model = "counted", messages = new[] { new { role = "user", content = "hi" } }, stream = true, max_tokens = 1_000_000, resume_grace_ms = 100 }),
        };
        var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var id = response.Headers.GetValues("X-Stream-Id").Single();
        var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[256];
        Assert.True(await stream.ReadAsync(buffer) > 0);
        response.Dispose();

        var status = await WaitForEndAsync(server.GetService<IStreamStore>(), id, TimeSpan.FromSeconds(20));
        Assert.Equal(StreamState.Cancelled, status.State);
        await counter.Disposed.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // Usage counts exactly the tokens the backend produced.
        Assert.Equal(counter.Produced, status.Usage.CompletionTokens);
        Assert.True(counter.Produced < 1_000_000);
    }

    [Fact]
    public async Task A_background_stream_keeps_running_after_its_client_leaves()
    {
        await using var server = await TestServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = ChatCompletionsStreamingTests.Body(new { model = "sim", messages = new[] { new { role = "user", content = "hi" } }, stream = true, max_tokens = 40, sim_tokens_per_second = 100, background = true, resume_grace_ms = 0 }),
        };
        var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var id = response.Headers.GetValues("X-Stream-Id").Single();
        response.Dispose();

        var status = await WaitForEndAsync(server.GetService<IStreamStore>(), id, TimeSpan.FromSeconds(20));
        Assert.Equal(StreamState.Completed, status.State);
        Assert.Equal(40, status.Usage.CompletionTokens);
    }

    /// <summary>A backend that counts the tokens it yields (paced at 1 ms) and reports when the enumeration is disposed.</summary>
    internal sealed class CountingBackend : IModelBackend
    {
        private int _produced;

        public int Produced => Volatile.Read(ref _produced);

        public TaskCompletionSource Disposed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async IAsyncEnumerable<TokenPiece> GenerateAsync(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            request.PromptTokens = 1;
            var piece = " tick"u8.ToArray();
            try
            {
                while (true)
                {
                    await Task.Delay(1, cancellationToken);
                    Interlocked.Increment(ref _produced);
                    yield return new TokenPiece(piece);
                }
            }
            finally
            {
                Disposed.TrySetResult();
            }
        }
    }
}
