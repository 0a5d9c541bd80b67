using Microsoft.Extensions.Time.Testing;

namespace Tokenflow.Core.Tests.Generation;

/// <summary>
/// A view of a <see cref="FakeTimeProvider"/> that reports each timer created through it, so a test
/// can advance the clock only once a paced backend is parked on its delay — never between the
/// backend reading the clock and arming its timer, which would push the next token a step later.
/// </summary>
internal sealed class TimerWatchingTimeProvider(FakeTimeProvider clock) : TimeProvider
{
    private readonly SemaphoreSlim _created = new(0);

    public override long TimestampFrequency => clock.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => clock.LocalTimeZone;

    public override DateTimeOffset GetUtcNow() => clock.GetUtcNow();

    public override long GetTimestamp() => clock.GetTimestamp();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = clock.CreateTimer(callback, state, dueTime, period);
        _created.Release();
        return timer;
    }

    /// <summary>Completes when the next timer not yet waited for has been created.</summary>
    public async Task WhenTimerCreatedAsync()
    {
        if (!await _created.WaitAsync(Streams.StreamTranscript.Timeout))
        {
            throw new TimeoutException("The backend never armed a timer on the clock.");
        }
    }
}
