using System.Diagnostics;
using Tokenflow.Core.Streams;

namespace Tokenflow.Core.Diagnostics;

/// <summary>
/// The writer a generation writes through: forwards every call to the store's writer, and at the terminal
/// event records the generation's metrics, ends its span, and reports its usage. Its <see cref="Stopping"/>
/// also fires when the server shuts down; a generation cancelled that way ends with the terminal error
/// <c>server_shutdown</c> instead of a cancel, so readers (here or on another process) know to retry.
/// </summary>
internal sealed class GenerationWriter : IStreamWriter
{
    /// <summary>The terminal error of a stream ended by a server shutdown.</summary>
    internal static readonly StreamError ShutdownError = new("The server is shutting down; the generation was ended.", "server_error", "server_shutdown") { Status = 503 };

    private readonly IStreamWriter _inner;
    private readonly string _model;
    private readonly long _startedAt;
    private readonly CancellationToken _shutdown;
    private readonly CancellationTokenSource? _linked;
    private readonly Activity? _activity;
    private readonly Action<Usage>? _ended;
    private bool _recorded;

    public GenerationWriter(IStreamWriter inner, string model, long startedAt, Action<Usage>? ended, CancellationToken shutdown)
    {
        _inner = inner;
        _model = model;
        _startedAt = startedAt;
        _shutdown = shutdown;
        _ended = ended;
        _linked = shutdown.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(inner.Stopping, shutdown) : null;
        _activity = TokenflowTelemetry.StartGeneration(model, inner.StreamId);
    }

    public string StreamId => _inner.StreamId;

    public long LastSeq => _inner.LastSeq;

    public CancellationToken Stopping => _linked?.Token ?? _inner.Stopping;

    public bool TryAppendDelta(ReadOnlySpan<byte> utf8Text) => _inner.TryAppendDelta(utf8Text);

    public bool TryAppendDelta(DeltaChannel channel, ReadOnlySpan<byte> utf8Text, int toolCallIndex = 0) => _inner.TryAppendDelta(channel, utf8Text, toolCallIndex);

    public bool TryAppendToolCallStart(int index, string id, string name, ReadOnlySpan<byte> arguments) => _inner.TryAppendToolCallStart(index, id, name, arguments);

    public bool TryAppendWatch(WatchMatch match) => _inner.TryAppendWatch(match);

    public void ReportUsage(Usage usage) => _inner.ReportUsage(usage);

    public void Complete(FinishReason finishReason, Usage usage, Timings timings, string? stopSequence = null)
    {
        if (finishReason == FinishReason.Cancelled && _shutdown.IsCancellationRequested && !_inner.Stopping.IsCancellationRequested)
        {
            TokenflowTelemetry.Cancelled("shutdown");
            Fail(ShutdownError, usage, timings);
            return;
        }

        if (finishReason == FinishReason.Cancelled)
        {
            TokenflowTelemetry.Cancelled(CancelCause());
        }

        _inner.Complete(finishReason, usage, timings, stopSequence);
        Record(usage, timings, null);
    }

    public void Fail(StreamError error, Usage usage) => Fail(error, usage, default);

    public ValueTask FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        _linked?.Dispose();
        _activity?.Dispose();
        await _inner.DisposeAsync().ConfigureAwait(false);
    }

    // Stopping of the store's writer fired: the store lost the stream (error), every reader left and the resume
    // grace ran out (abandoned), or a cancel request / the last reader leaving with no grace (client); otherwise cancel_on.
    private string CancelCause() => !_inner.Stopping.IsCancellationRequested
        ? "watch"
        : _inner switch
        {
            StreamLog { Lost: true } => "error",
            StreamLog { Abandoned: true } => "abandoned",
            _ => "client",
        };

    private void Fail(StreamError error, Usage usage, Timings timings)
    {
        _inner.Fail(error, usage);
        _activity?.SetStatus(ActivityStatusCode.Error, error.Code);
        Record(usage, timings, error.Code ?? error.Type);
    }

    private void Record(Usage usage, Timings timings, string? errorType)
    {
        if (_recorded)
        {
            return;
        }

        _recorded = true;
        var seconds = Stopwatch.GetElapsedTime(_startedAt).TotalSeconds;
        TokenflowTelemetry.RecordGeneration(_model, seconds, timings, usage, usage.CompletionTokens, errorType);
        _activity?.SetTag("gen_ai.usage.input_tokens", usage.PromptTokens);
        _activity?.SetTag("gen_ai.usage.output_tokens", usage.CompletionTokens);
        _ended?.Invoke(usage);
    }
}
