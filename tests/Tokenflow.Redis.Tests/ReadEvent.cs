using System.Text;
using Tokenflow.Core.Streams;

namespace Tokenflow.Redis.Tests;

/// <summary>An event as a test keeps it (the reader's text is only valid while it is open).</summary>
internal sealed record ReadEvent(long Seq, StreamEventKind Kind, string Text, FinishReason FinishReason, Usage Usage, string? ErrorCode)
{
    public static ReadEvent From(in StreamEvent e) => new(e.Seq, e.Kind, Encoding.UTF8.GetString(e.Text.Span), e.FinishReason, e.Usage, e.Error?.Code);

    /// <summary>Reads until the terminal event (or <paramref name="count"/> events), with a deadline.</summary>
    public static async Task<List<ReadEvent>> ReadAsync(IStreamReader reader, int count = int.MaxValue, double timeoutSeconds = 20)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        var events = new List<ReadEvent>();
        while (events.Count < count && await reader.WaitToReadAsync(timeout.Token))
        {
            while (events.Count < count && reader.TryRead(out var e))
            {
                events.Add(From(e));
            }
        }

        return events;
    }
}
