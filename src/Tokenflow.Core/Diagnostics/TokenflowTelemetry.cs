using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Tokenflow.Core.Streams;

namespace Tokenflow.Core.Diagnostics;

/// <summary>
/// Tokenflow's metrics and traces: the OpenTelemetry GenAI server metrics (<c>gen_ai.server.*</c>) and
/// Tokenflow's stream metrics on the meter <see cref="MeterName"/>, generation spans on the activity source
/// <see cref="ActivitySourceName"/>. Everything is recorded once per generation, reader or resume, never per
/// token, so the token loop pays nothing for it. Thread-safe.
/// </summary>
public static class TokenflowTelemetry
{
    /// <summary>The name of the <see cref="Meter"/> (and of the <see cref="ActivitySource"/>): add it to an OpenTelemetry provider.</summary>
    public const string MeterName = "Tokenflow";

    /// <summary>The name of the <see cref="ActivitySource"/> of generation spans (each tagged with <c>tokenflow.stream.id</c>).</summary>
    public const string ActivitySourceName = "Tokenflow";

    /// <summary>The span attribute and log scope field carrying the stream id.</summary>
    public const string StreamIdAttribute = "tokenflow.stream.id";

    private static readonly Meter Meter = new(MeterName);

    // Bucket boundaries: the GenAI semantic conventions' advice, with finer buckets below 10 ms for local models
    // (tokenflow-tiny makes a token every ~1 ms).
    private static readonly Histogram<double> TimeToFirstToken = Meter.CreateHistogram(
        "gen_ai.server.time_to_first_token", "s", "Time to generate the first token of a request, from its start.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0] });

    private static readonly Histogram<double> TimePerOutputToken = Meter.CreateHistogram(
        "gen_ai.server.time_per_output_token", "s", "Time per output token after the first, per request.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5] });

    private static readonly Histogram<double> RequestDuration = Meter.CreateHistogram(
        "gen_ai.server.request.duration", "s", "Duration of a generation, from its start to its terminal event.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92] });

    private static readonly Counter<long> TokenUsage = Meter.CreateCounter<long>(
        "gen_ai.server.token.usage", "{token}", "Tokens processed: input (prompt) and output (generated, cancelled generations included).");

    private static readonly UpDownCounter<long> Readers = Meter.CreateUpDownCounter<long>(
        "tokenflow.stream.readers", "{reader}", "Readers attached to stream logs in this process.");

    private static readonly Counter<long> Resumes = Meter.CreateCounter<long>(
        "tokenflow.stream.resumes", "{resume}", "Readers that resumed a stream after a seq (Last-Event-ID, after, starting_after).");

    private static readonly Counter<long> Cancellations = Meter.CreateCounter<long>(
        "tokenflow.stream.cancellations", "{stream}", "Generations cancelled, by cause: client (a cancel request, or the last reader gone with no resume grace), abandoned (every reader gone and the resume grace ran out), watch (cancel_on), shutdown (drain timeout), error (the store lost the stream).");

    private static readonly ActivitySource Source = new(ActivitySourceName);

    // The stores and runners of this process (tests run several servers in one): the gauges sum them at collection.
    // Weakly held: a source that is no longer used drops out of the sums with its owner.
    private static readonly ConditionalWeakTable<object, Func<long>> ActiveStreams = new();
    private static readonly ConditionalWeakTable<object, Func<long>> StoreBytes = new();

    static TokenflowTelemetry()
    {
        Meter.CreateObservableUpDownCounter("tokenflow.streams.active", () => Sum(ActiveStreams), "{stream}", "Generations running in this process.");
        Meter.CreateObservableUpDownCounter("tokenflow.store.bytes", () => Sum(StoreBytes), "By", "Bytes of event text held by the memory stream stores of this process.");
    }

    /// <summary>Counts a reader that resumed a stream after <c>seq</c> &gt; 0 on a door (<c>sse</c>, <c>websocket</c>, <c>responses</c>, …).</summary>
    public static void StreamResumed(string door)
    {
        if (Resumes.Enabled)
        {
            Resumes.Add(1, new KeyValuePair<string, object?>("tokenflow.door", door));
        }
    }

    /// <summary>Counts a generation cancelled for <paramref name="cause"/> (<c>client</c>, <c>abandoned</c>, <c>watch</c>, <c>shutdown</c>, <c>error</c>).</summary>
    internal static void Cancelled(string cause)
    {
        if (Cancellations.Enabled)
        {
            Cancellations.Add(1, new KeyValuePair<string, object?>("tokenflow.cancel.cause", cause));
        }
    }

    /// <summary>A reader attached to (+1) or left (-1) a stream log.</summary>
    internal static void ReaderAttached(int delta)
    {
        if (Readers.Enabled)
        {
            Readers.Add(delta);
        }
    }

    /// <summary>Registers a source of running generations for <c>tokenflow.streams.active</c>, for the lifetime of <paramref name="owner"/>.</summary>
    internal static void RegisterActiveStreams(object owner, Func<long> count) => ActiveStreams.AddOrUpdate(owner, count);

    /// <summary>Registers a source of held bytes for <c>tokenflow.store.bytes</c>, for the lifetime of <paramref name="owner"/>.</summary>
    internal static void RegisterStoreBytes(object owner, Func<long> bytes) => StoreBytes.AddOrUpdate(owner, bytes);

    /// <summary>Starts the span of one generation (null when nobody listens).</summary>
    internal static Activity? StartGeneration(string model, string streamId)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var activity = Source.StartActivity($"chat {model}", ActivityKind.Internal);
        activity?.SetTag("gen_ai.operation.name", "chat");
        activity?.SetTag("gen_ai.request.model", model);
        activity?.SetTag(StreamIdAttribute, streamId);
        return activity;
    }

    /// <summary>Records one generation's end: duration, timings (when it produced tokens) and token usage.</summary>
    internal static void RecordGeneration(string model, double durationSeconds, in Timings timings, in Usage usage, int tokens, string? errorType)
    {
        var modelTag = new KeyValuePair<string, object?>("gen_ai.request.model", model);
        var operation = new KeyValuePair<string, object?>("gen_ai.operation.name", "chat");
        if (RequestDuration.Enabled)
        {
            if (errorType is null)
            {
                RequestDuration.Record(durationSeconds, operation, modelTag);
            }
            else
            {
                RequestDuration.Record(durationSeconds, operation, modelTag, new KeyValuePair<string, object?>("error.type", errorType));
            }
        }

        if (tokens > 0 && TimeToFirstToken.Enabled && timings.TimeToFirstTokenMs > 0)
        {
            TimeToFirstToken.Record(timings.TimeToFirstTokenMs / 1000, operation, modelTag);
        }

        if (tokens > 1 && TimePerOutputToken.Enabled)
        {
            TimePerOutputToken.Record(timings.TimePerOutputTokenMs / 1000, operation, modelTag);
        }

        if (TokenUsage.Enabled)
        {
            TokenUsage.Add(usage.PromptTokens, operation, modelTag, new KeyValuePair<string, object?>("gen_ai.token.type", "input"));
            TokenUsage.Add(usage.CompletionTokens, operation, modelTag, new KeyValuePair<string, object?>("gen_ai.token.type", "output"));
        }
    }

    private static long Sum(ConditionalWeakTable<object, Func<long>> sources)
    {
        long total = 0;
        foreach (var (_, source) in sources)
        {
            total += source();
        }

        return total;
    }
}
