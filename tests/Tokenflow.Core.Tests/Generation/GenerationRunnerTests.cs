using System.Text;
using System.Text.Unicode;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Sim;
using Tokenflow.Core.Streams;
using Tokenflow.Core.Tests.Streams;

namespace Tokenflow.Core.Tests.Generation;

public sealed class GenerationRunnerTests
{
    private const int PromptTokens = 3;
    private static readonly TimeSpan Timeout = StreamTranscript.Timeout;
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task A_length_limited_generation_streams_the_simulator_text_and_counts_max_tokens()
    {
        using var store = TestStore.Create(_time);
        var runner = Runner(store);
        var sim = new SimBackend(_time);
        int[] limits = [1, 2, 3, 4, 7, 16, 64];
        var endedMidCharacter = 0;
        var endedOnBoundary = 0;
        for (var seed = 0; seed < 30; seed++)
        {
            foreach (var maxTokens in limits)
            {
                var (_, events) = await RunToEndAsync(store, runner, sim, Request(seed, maxTokens), new GenerationOptions { MaxTokens = maxTokens });

                // When max_tokens cuts a character in two (the simulator splits some characters
                // between pieces), the runner drops the half character, and so does ExpectedText;
                // the counters prove both cases ran.
                var expected = SimBackend.ExpectedText(seed, maxTokens);
                Assert.Equal(expected, StreamTranscript.DeltaText(events));
                Assert.DoesNotContain('\uFFFD', StreamTranscript.DeltaText(events));
                _ = Utf8.IsValid(SimBackend.ExpectedBytes(seed, maxTokens)) ? endedOnBoundary++ : endedMidCharacter++;

                Assert.All(events.SkipLast(2), e => Assert.Equal(StreamEventKind.Delta, e.Kind));
                Assert.All(events.SkipLast(2), e => Assert.True(Utf8.IsValid(e.Utf8), $"delta {Convert.ToHexString(e.Utf8)} is not whole characters"));
                var (usage, done) = (events[^2], events[^1]);
                Assert.Equal(StreamEventKind.Usage, usage.Kind);
                Assert.Equal(StreamEventKind.Done, done.Kind);
                Assert.All([usage, done], e => Assert.Equal(FinishReason.Length, e.FinishReason));
                Assert.All([usage, done], e => Assert.Equal(new Usage(PromptTokens, maxTokens), e.Usage));
            }
        }

        Assert.True(endedMidCharacter > 0, "no run ended inside a character");
        Assert.True(endedOnBoundary > 0, "no run ended on a character boundary");
    }

    [Fact]
    public async Task A_finished_generation_reports_its_status_and_usage()
    {
        using var store = TestStore.Create(_time);
        var runner = Runner(store);
        var start = await runner.StartAsync(Model(new SimBackend(_time)), Request(5, 10), new GenerationOptions { MaxTokens = 10, IdPrefix = "cmpl-" }, CancellationToken.None);
        Assert.Equal(StreamCreateStatus.Created, start.Status);
        Assert.StartsWith("cmpl-", start.StreamId, StringComparison.Ordinal);
        Assert.Equal(_time.GetUtcNow().ToUnixTimeSeconds(), start.Created);

        var events = await StreamTranscript.ReadToEndAsync(store, start.StreamId!);
        var status = await store.GetStatusAsync(start.StreamId!, CancellationToken.None);
        Assert.NotNull(status);
        Assert.Equal(StreamState.Completed, status.State);
        Assert.Equal(SimBackend.ModelId, status.Model);
        Assert.Equal(events.Count, status.LastSeq);
        Assert.Equal(new Usage(PromptTokens, 10), status.Usage);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public async Task A_stop_sequence_spanning_tokens_ends_with_finish_stop_and_the_text_before_it(long seed)
    {
        using var store = TestStore.Create(_time);
        var runner = Runner(store);
        var sim = new SimBackend(_time);
        var text = SimBackend.ExpectedText(seed, 60);
        var runes = text.EnumerateRunes().ToList();

        // Each simulated word is its own piece(s) starting with a space, so a stop that contains a
        // space and characters on both sides of it always spans pieces. Some stops end with a
        // multi-byte character, which the simulator may also split between two pieces.
        var stops = new List<string>();
        var spaces = Enumerable.Range(2, runes.Count - 5).Where(r => runes[r] == new Rune(' ')).ToList();
        stops.AddRange(spaces.Where((_, i) => i % 4 == 1).Take(3).Select(r => string.Concat(runes[(r - 2)..(r + 2)])));
        stops.AddRange(spaces.Where(r => runes[r + 1].Value > 0x7F).Take(2).Select(r => string.Concat(runes[(r - 1)..(r + 2)])));
        Assert.True(stops.Count >= 4, $"seed {seed} gave too few stop candidates");

        foreach (var stop in stops)
        {
            var (_, events) = await RunToEndAsync(store, runner, sim, Request(seed, 10_000), new GenerationOptions { MaxTokens = 10_000, Stop = [stop] });

            Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], StreamTranscript.DeltaText(events));
            Assert.Equal(StreamEventKind.Done, events[^1].Kind);
            Assert.Equal(FinishReason.Stop, events[^1].FinishReason);

            // Usage counts every piece up to the one that completed the stop sequence.
            var tokensToStop = Enumerable.Range(1, 60).First(n => SimBackend.ExpectedText(seed, n).Contains(stop, StringComparison.Ordinal));
            Assert.Equal(new Usage(PromptTokens, tokensToStop), events[^1].Usage);
        }
    }

    [Fact]
    public async Task A_generation_the_backend_ends_finishes_with_stop_and_flushes_held_text()
    {
        using var store = TestStore.Create(_time);
        var runner = Runner(store);

        // The held stop-sequence prefix "xy" and the incomplete character at the end are flushed.
        var backend = new ScriptedBackend("abc x"u8.ToArray(), "y"u8.ToArray(), [0xE6, 0x97]);
        var (_, events) = await RunToEndAsync(store, runner, backend, Request(0, 100), new GenerationOptions { MaxTokens = 100, Stop = ["xyz"] });

        Assert.Equal("abc xy\uFFFD", StreamTranscript.DeltaText(events));
        Assert.Equal(FinishReason.Stop, events[^1].FinishReason);
        Assert.Equal(new Usage(1, 3), events[^1].Usage);
    }

    [Fact]
    public async Task Cancelling_mid_run_ends_with_cancelled_counts_the_pieces_produced_and_stops_the_backend()
    {
        using var store = TestStore.Create(_time);
        var runner = Runner(store);
        var simClock = new TimerWatchingTimeProvider(_time);
        var backend = new ObservedBackend(new SimBackend(simClock));
        const long Seed = 42;
        var start = await runner.StartAsync(Model(backend), Request(Seed, 1000, tokensPerSecond: 10), new GenerationOptions { MaxTokens = 1000 }, CancellationToken.None);
        await using var reader = await TestStore.OpenAsync(store, start.StreamId!);

        await ProduceFourPiecesAsync(backend, simClock);
        Assert.True(await store.CancelAsync(start.StreamId!, CancellationToken.None));

        var events = await StreamTranscript.ReadToEndAsync(reader);
        await backend.Disposed.WaitAsync(Timeout);
        AssertCancelledAfter(events, backend, Seed, 4);
        Assert.Equal(StreamState.Cancelled, (await store.GetStatusAsync(start.StreamId!, CancellationToken.None))?.State);
    }

    [Fact]
    public async Task The_last_reader_leaving_cancels_the_generation_after_its_grace_period()
    {
        using var store = TestStore.Create(_time);
        var runner = Runner(store);
        var simClock = new TimerWatchingTimeProvider(_time);
        var backend = new ObservedBackend(new SimBackend(simClock));
        const long Seed = 7;
        var grace = TimeSpan.FromMilliseconds(50);
        var start = await runner.StartAsync(Model(backend), Request(Seed, 1000, tokensPerSecond: 10), new GenerationOptions { MaxTokens = 1000, ResumeGrace = grace }, CancellationToken.None);
        var reader = await TestStore.OpenAsync(store, start.StreamId!);

        await ProduceFourPiecesAsync(backend, simClock);

        // The grace period (50 ms) ends before the next piece is due (at 400 ms).
        await reader.DisposeAsync();
        _time.Advance(grace - TimeSpan.FromTicks(1));
        Assert.False(backend.Disposed.IsCompleted);
        Assert.Equal(StreamState.Running, (await store.GetStatusAsync(start.StreamId!, CancellationToken.None))?.State);
        _time.Advance(TimeSpan.FromTicks(1));

        await backend.Disposed.WaitAsync(Timeout);
        var events = await StreamTranscript.ReadToEndAsync(store, start.StreamId!);
        AssertCancelledAfter(events, backend, Seed, 4);
    }

    [Fact]
    public async Task A_backend_that_throws_mid_stream_ends_with_an_error_after_the_deltas_so_far()
    {
        using var store = TestStore.Create(_time);
        var runner = Runner(store);
        var backend = new ObservedBackend(new SimBackend(_time), throwAfter: 5);
        const long Seed = 9;
        var (streamId, events) = await RunToEndAsync(store, runner, backend, Request(Seed, 100), new GenerationOptions { MaxTokens = 100 });
        await backend.Disposed.WaitAsync(Timeout);

        // A character the crash left incomplete is dropped rather than flushed as U+FFFD.
        Assert.Equal(SimBackend.ExpectedText(Seed, 5), StreamTranscript.DeltaText(events));
        Assert.All(events.SkipLast(1), e => Assert.Equal(StreamEventKind.Delta, e.Kind));
        var error = events[^1];
        Assert.Equal(StreamEventKind.Error, error.Kind);
        Assert.Equal("backend_failed", error.Error?.Code);
        Assert.Equal("server_error", error.Error?.Type);
        Assert.Contains("The model crashed.", error.Error?.Message, StringComparison.Ordinal);
        Assert.Equal(new Usage(PromptTokens, 5), error.Usage);
        Assert.Equal(5, backend.Produced);
        Assert.Equal(StreamState.Failed, (await store.GetStatusAsync(streamId, CancellationToken.None))?.State);
    }

    [Fact]
    public async Task A_generation_over_MaxEventsPerStream_ends_with_an_error_event()
    {
        using var store = TestStore.Create(_time, o => o.MaxEventsPerStream = 16);
        var runner = Runner(store);
        var backend = new ObservedBackend(new SimBackend(_time));
        const long Seed = 3;
        var (streamId, events) = await RunToEndAsync(store, runner, backend, Request(Seed, 10_000), new GenerationOptions { MaxTokens = 10_000 });
        await backend.Disposed.WaitAsync(Timeout);

        Assert.InRange(events.Count, 2, 16);
        Assert.All(events.SkipLast(1), e => Assert.Equal(StreamEventKind.Delta, e.Kind));
        Assert.Equal(StreamEventKind.Error, events[^1].Kind);
        Assert.Equal("stream_limit_exceeded", events[^1].Error?.Code);
        Assert.Equal(new Usage(PromptTokens, backend.Produced), events[^1].Usage);
        Assert.StartsWith(StreamTranscript.DeltaText(events), SimBackend.ExpectedText(Seed, backend.Produced), StringComparison.Ordinal);
        Assert.Equal(StreamState.Failed, (await store.GetStatusAsync(streamId, CancellationToken.None))?.State);
        Assert.Equal(0, store.RunningStreams);
    }

    [Fact]
    public async Task Starting_when_the_store_is_full_returns_Full_without_a_stream()
    {
        using var store = TestStore.Create(_time, o => o.MaxRunningStreams = 1);
        await TestStore.CreateStreamAsync(store);
        var backend = new ObservedBackend(new SimBackend(_time));

        var start = await Runner(store).StartAsync(Model(backend), Request(1, 10), new GenerationOptions(), CancellationToken.None);

        Assert.Equal(StreamCreateStatus.Full, start.Status);
        Assert.Null(start.StreamId);
        Assert.Equal(1, store.StreamCount);
        Assert.Equal(0, backend.Produced);
    }

    private GenerationRunner Runner(IStreamStore store) => new(store, _time, NullLogger<GenerationRunner>.Instance);

    private static ModelEntry Model(IModelBackend backend) => new(SimBackend.ModelId, "tokenflow", backend);

    private static BackendRequest Request(long seed, int maxTokens, double tokensPerSecond = 0) => new()
    {
        Model = SimBackend.ModelId,
        Prompt = "one two three",
        Seed = seed,
        MaxTokens = maxTokens,
        SimTokensPerSecond = tokensPerSecond,
    };

    /// <summary>Starts a generation, reads its stream from the start to the end, and checks the stream's shape.</summary>
    private static async Task<(string StreamId, List<ReadEvent> Events)> RunToEndAsync(MemoryStreamStore store, GenerationRunner runner, IModelBackend backend, BackendRequest request, GenerationOptions options)
    {
        var start = await runner.StartAsync(Model(backend), request, options, CancellationToken.None);
        Assert.Equal(StreamCreateStatus.Created, start.Status);
        Assert.NotNull(start.StreamId);
        var events = await StreamTranscript.ReadToEndAsync(store, start.StreamId);
        StreamTranscript.AssertWellFormed(events);
        return (start.StreamId, events);
    }

    /// <summary>
    /// Lets a simulator paced at 10 tokens/s on the fake clock produce exactly four pieces: the
    /// first comes at once, then one more each time the clock moves 100 ms. Each step waits until
    /// the simulator is parked on its delay before moving the clock, and the method returns with
    /// the simulator parked again, waiting for a fifth piece that is due only at 400 ms.
    /// </summary>
    private async Task ProduceFourPiecesAsync(ObservedBackend backend, TimerWatchingTimeProvider simClock)
    {
        await backend.WhenProducedAsync(1).WaitAsync(Timeout);
        for (var step = 1; step <= 3; step++)
        {
            await simClock.WhenTimerCreatedAsync();
            _time.Advance(TimeSpan.FromMilliseconds(100));
            await backend.WhenProducedAsync(step + 1).WaitAsync(Timeout);
        }

        await simClock.WhenTimerCreatedAsync();
        Assert.Equal(4, backend.Produced);
    }

    private static void AssertCancelledAfter(List<ReadEvent> events, ObservedBackend backend, long seed, int pieces)
    {
        StreamTranscript.AssertWellFormed(events);
        Assert.Equal(pieces, backend.Produced);
        Assert.Equal(SimBackend.ExpectedText(seed, pieces), StreamTranscript.DeltaText(events));
        var (usage, done) = (events[^2], events[^1]);
        Assert.Equal(StreamEventKind.Usage, usage.Kind);
        Assert.Equal(StreamEventKind.Done, done.Kind);
        Assert.All([usage, done], e => Assert.Equal(FinishReason.Cancelled, e.FinishReason));
        Assert.All([usage, done], e => Assert.Equal(new Usage(PromptTokens, backend.Produced), e.Usage));
    }
}
