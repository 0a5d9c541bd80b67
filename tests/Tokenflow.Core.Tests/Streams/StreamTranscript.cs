using System.Text;
using Tokenflow.Core.Streams;

namespace Tokenflow.Core.Tests.Streams;

/// <summary>Reads streams to their end the way an adapter does: wait, drain, repeat — with a generous timeout instead of sleeps.</summary>
internal static class StreamTranscript
{
    /// <summary>How long a test waits for something that should happen at once.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>Reads every event until the reader reports the end; fails with the events so far if that takes longer than <paramref name="timeout"/>.</summary>
    public static async Task<List<ReadEvent>> ReadToEndAsync(IStreamReader reader, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        var events = new List<ReadEvent>();
        try
        {
            while (await reader.WaitToReadAsync(cts.Token))
            {
                while (reader.TryRead(out var e))
                {
                    events.Add(ReadEvent.From(e));
                }
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"Stream {reader.StreamId} did not end within {timeout ?? Timeout}; read seqs [{string.Join(", ", events.Select(e => e.Seq))}].");
        }

        return events;
    }

    /// <summary>Opens a reader after <paramref name="afterSeq"/>, reads to the end and disposes it.</summary>
    public static async Task<List<ReadEvent>> ReadToEndAsync(IStreamStore store, string streamId, long afterSeq = 0)
    {
        var (status, reader) = await store.OpenReaderAsync(streamId, afterSeq, CancellationToken.None);
        Assert.Equal(StreamOpenStatus.Opened, status);
        await using (reader!)
        {
            return await ReadToEndAsync(reader!);
        }
    }

    /// <summary>The concatenated text of the delta events.</summary>
    public static string DeltaText(IEnumerable<ReadEvent> events)
        => Encoding.UTF8.GetString([.. events.Where(e => e.Kind == StreamEventKind.Delta).SelectMany(e => e.Utf8)]);

    /// <summary>Checks the shape every stream must have: seqs 1..N in order, deltas, then exactly one terminal event last.</summary>
    public static void AssertWellFormed(IReadOnlyList<ReadEvent> events)
    {
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Seq));
        Assert.NotEmpty(events);
        Assert.True(events[^1].IsTerminal, $"the last event is {events[^1].Kind}, not a terminal event");
        Assert.Single(events, e => e.IsTerminal);
    }
}
