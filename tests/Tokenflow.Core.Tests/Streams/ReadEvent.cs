using System.Text;
using Tokenflow.Core.Streams;

namespace Tokenflow.Core.Tests.Streams;

/// <summary>A copy of a <see cref="StreamEvent"/> that outlives its reader.</summary>
internal sealed record ReadEvent(long Seq, StreamEventKind Kind, byte[] Utf8, FinishReason FinishReason, Usage Usage, StreamError? Error)
{
    public string Text => Encoding.UTF8.GetString(Utf8);

    public bool IsTerminal => Kind is StreamEventKind.Done or StreamEventKind.Error;

    public static ReadEvent From(in StreamEvent e) => new(e.Seq, e.Kind, e.Text.ToArray(), e.FinishReason, e.Usage, e.Error);
}
