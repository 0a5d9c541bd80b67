using System.Buffers;
using System.Text;

namespace Tokenflow.Core.Streams;

/// <summary>
/// Everything a stream's events add up to, for doors that answer with one body (non-streamed chat
/// completions, MCP results, Responses and Messages objects): the text of each channel, the tool
/// calls with their whole arguments, the watches that fired and the terminal event. Feed it every
/// event in order with <see cref="Add"/>. Not thread-safe.
/// </summary>
public sealed class StreamOutput
{
    private readonly ArrayBufferWriter<byte> _content = new(256);
    private ArrayBufferWriter<byte>? _reasoning;
    private ArrayBufferWriter<byte>? _refusal;
    private List<OutputToolCall>? _toolCalls;
    private List<WatchMatch>? _watches;

    /// <summary>The answer text so far, UTF-8.</summary>
    public ReadOnlySpan<byte> Content => _content.WrittenSpan;

    /// <summary>The reasoning text so far, UTF-8 (empty when the model gave none).</summary>
    public ReadOnlySpan<byte> Reasoning => _reasoning is null ? default : _reasoning.WrittenSpan;

    /// <summary>The refusal text so far, UTF-8 (empty when none).</summary>
    public ReadOnlySpan<byte> Refusal => _refusal is null ? default : _refusal.WrittenSpan;

    /// <summary>True when the model produced reasoning.</summary>
    public bool HasReasoning => _reasoning is { WrittenCount: > 0 };

    /// <summary>True when the model produced a refusal.</summary>
    public bool HasRefusal => _refusal is { WrittenCount: > 0 };

    /// <summary>The tool calls, in index order.</summary>
    public IReadOnlyList<OutputToolCall> ToolCalls => (IReadOnlyList<OutputToolCall>?)_toolCalls ?? [];

    /// <summary>The watches that fired, in order.</summary>
    public IReadOnlyList<WatchMatch> Watches => (IReadOnlyList<WatchMatch>?)_watches ?? [];

    /// <summary>The terminal event once seen (<c>Seq</c> 0 before).</summary>
    public StreamEvent Final { get; private set; }

    /// <summary>The usage event once seen (<c>Seq</c> 0 before).</summary>
    public StreamEvent UsageEvent { get; private set; }

    /// <summary>Adds one event.</summary>
    public void Add(in StreamEvent item)
    {
        switch (item.Kind)
        {
            case StreamEventKind.Delta:
                AddDelta(in item);
                break;
            case StreamEventKind.Watch:
                (_watches ??= []).Add(item.Watch!);
                break;
            case StreamEventKind.Usage:
                UsageEvent = item;
                break;
            default:
                if (item.IsTerminal)
                {
                    Final = item;
                }

                break;
        }
    }

    private void AddDelta(in StreamEvent item)
    {
        switch (item.Channel)
        {
            case DeltaChannel.Content:
                _content.Write(item.Text.Span);
                break;
            case DeltaChannel.Reasoning:
                (_reasoning ??= new ArrayBufferWriter<byte>(256)).Write(item.Text.Span);
                break;
            case DeltaChannel.Refusal:
                (_refusal ??= new ArrayBufferWriter<byte>(64)).Write(item.Text.Span);
                break;
            case DeltaChannel.ToolCall:
                var calls = _toolCalls ??= [];
                var index = item.ToolCallIndex;
                var call = calls.Find(c => c.Index == index);
                if (call is null)
                {
                    call = new OutputToolCall(index);
                    calls.Add(call);
                    calls.Sort(static (a, b) => a.Index.CompareTo(b.Index));
                }

                if (item.ToolCallId is { } id)
                {
                    call.Id = id;
                    call.Name = item.ToolName ?? string.Empty;
                }

                call.Append(item.Text.Span);
                break;
        }
    }
}
