using System.Text;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Streams;

namespace Tokenflow.Server.Mcp;

/// <summary>
/// Collects what a reader can read from a stream right now, without waiting: the answer text, the
/// reasoning, the tool-call fragments, the watches that fired, the seq of the last event read and, once the terminal event has been read,
/// how the stream ended.
/// </summary>
internal sealed class StreamTail
{
    private readonly StringBuilder _text = new();
    private readonly int _maxTextBytes;
    private int _textBytes;
    private StringBuilder? _reasoning;
    private SortedDictionary<int, (string? Id, string? Name, StringBuilder Arguments)>? _toolCalls;

    /// <param name="afterSeq">The reader's starting position.</param>
    /// <param name="maxTextBytes">Stop collecting once this much text is held (the caller reads on from <see cref="LastSeq"/>).</param>
    public StreamTail(long afterSeq, int maxTextBytes = int.MaxValue)
    {
        LastSeq = afterSeq;
        _maxTextBytes = maxTextBytes;
    }

    /// <summary>The answer text (content channel) read so far.</summary>
    public string Text => _text.ToString();

    /// <summary>The model's reasoning text read so far; null when there was none.</summary>
    public string? Reasoning => _reasoning?.ToString();

    /// <summary>The tool-call fragments read so far, by call index; null when there were none.</summary>
    public List<McpToolCallFragment>? ToolCalls => _toolCalls?.Select(c => new McpToolCallFragment(c.Key, c.Value.Arguments.ToString()) { Id = c.Value.Id, Name = c.Value.Name }).ToList();

    /// <summary>The watches that fired among the events read; null when none did.</summary>
    public List<McpWatch>? Watches { get; private set; }

    /// <summary>The seq of the last event read (the starting position when none was).</summary>
    public long LastSeq { get; private set; }

    /// <summary>How the stream ended, once its terminal event has been read; null before.</summary>
    public StreamState? EndState { get; private set; }

    /// <summary>True when the text limit stopped collection before the reader ran dry.</summary>
    public bool IsFull => _textBytes >= _maxTextBytes;

    /// <summary>
    /// Reads every event already stored up to <paramref name="storedSeq"/> (the stream's last seq
    /// from its status), then whatever else is available now. A store that keeps logs elsewhere
    /// (Redis) only fetches on a wait, so a bare <see cref="Drain"/> could see nothing of a finished stream.
    /// </summary>
    public async ValueTask DrainStoredAsync(IStreamReader reader, long storedSeq, CancellationToken cancellationToken)
    {
        Drain(reader);
        while (!IsFull && EndState is null && LastSeq < storedSeq && await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            Drain(reader);
        }
    }

    /// <summary>Reads every event available now. Returns true when at least one was read.</summary>
    public bool Drain(IStreamReader reader)
    {
        var any = false;
        while (!IsFull && EndState is null && reader.TryRead(out var item))
        {
            any = true;
            LastSeq = item.Seq;
            switch (item.Kind)
            {
                case StreamEventKind.Watch:
                    (Watches ??= []).Add(McpWatch.From(item.Watch!));
                    break;
                case StreamEventKind.Delta when item.Channel == DeltaChannel.Content:
                    _text.Append(Encoding.UTF8.GetString(item.Text.Span));
                    _textBytes += item.Text.Length;
                    break;
                case StreamEventKind.Delta when item.Channel == DeltaChannel.Reasoning:
                    (_reasoning ??= new()).Append(Encoding.UTF8.GetString(item.Text.Span));
                    _textBytes += item.Text.Length;
                    break;
                case StreamEventKind.Delta when item.Channel == DeltaChannel.ToolCall:
                    _toolCalls ??= [];
                    var call = _toolCalls.TryGetValue(item.ToolCallIndex, out var known) ? known : (null, null, new StringBuilder());
                    if (item.ToolCallId is { } callId)
                    {
                        call = (callId, item.ToolName, call.Arguments);
                    }

                    call.Arguments.Append(Encoding.UTF8.GetString(item.Text.Span));
                    _toolCalls[item.ToolCallIndex] = call;
                    _textBytes += item.Text.Length;
                    break;
                case StreamEventKind.Done:
                case StreamEventKind.Error:
                    EndState = StreamStateNames.EndStateOf(item.Kind, item.FinishReason);
                    break;
            }
        }

        return any;
    }
}
