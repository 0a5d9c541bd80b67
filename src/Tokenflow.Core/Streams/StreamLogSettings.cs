using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tokenflow.Core.Streams;

/// <summary>What a store gives each <see cref="StreamLog"/> it creates.</summary>
public sealed class StreamLogSettings
{
    /// <summary>The clock for grace periods and end times.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Where a log reports failures it cannot return (a failing <see cref="StreamLog.Stopping"/> callback).</summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;

    /// <summary>Most events one log may hold; appends past it are refused (room is kept for the terminal events).</summary>
    public int MaxEvents { get; init; } = 1_000_000;

    /// <summary>How long a stream keeps running after its last reader leaves, unless its descriptor says otherwise.</summary>
    public TimeSpan ResumeGrace { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>The retention of streams whose descriptor does not choose one.</summary>
    public StreamRetention Retention { get; init; } = StreamRetention.Ttl;

    /// <summary>The store's byte budget, charged per event (text plus <see cref="StreamLog.EventOverheadBytes"/>); null = unbounded.</summary>
    public StreamBudget? Budget { get; init; }

    /// <summary>
    /// Null for a log that is its store (memory): readers see every event at once. A number for a
    /// log replicated elsewhere (Redis): readers see only what the replica acknowledged
    /// (<see cref="StreamLog.Commit"/>), and <see cref="StreamLog.FlushAsync"/> waits while more than
    /// this many events are unacknowledged (and, after the terminal event, until all are).
    /// </summary>
    public int? MaxUncommitted { get; init; }
}
