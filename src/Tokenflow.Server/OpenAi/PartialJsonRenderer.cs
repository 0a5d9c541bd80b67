using System.Buffers;
using System.Text.Json;
using Tokenflow.Core.Json;
using Tokenflow.Core.Streams;

namespace Tokenflow.Server.OpenAi;

/// <summary>
/// <c>stream_options.partial_json</c> (DESIGN.md "Partial structure"): follows the JSON answer and each tool
/// call's arguments with <see cref="PartialJson"/> and says, per delta, whether the value parsed so far changed
/// and what it is now — rendered as <c>"tokenflow":{"partial":…}</c> or
/// <c>"tokenflow":{"partial_tool_calls":[{"index","arguments"}]}</c>. One per response; each reader of a stream
/// keeps its own, so a replay renders the same values. Not thread-safe.
/// </summary>
internal sealed class PartialJsonRenderer
{
    private static readonly JsonWriterOptions Options = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly Dictionary<int, Tracked> _tools = [];
    private Tracked? _content;

    /// <summary>
    /// Adds a delta; returns the JSON of the value so far when it changed (valid until the next call), else empty.
    /// </summary>
    public ReadOnlySpan<byte> Add(in StreamEvent delta)
    {
        Tracked tracked;
        switch (delta.Channel)
        {
            case DeltaChannel.Content:
                tracked = _content ??= new Tracked();
                break;
            case DeltaChannel.ToolCall:
                if (!_tools.TryGetValue(delta.ToolCallIndex, out tracked!))
                {
                    tracked = _tools[delta.ToolCallIndex] = new Tracked();
                }

                break;
            default:
                return default;
        }

        return tracked.Add(delta.Text.Span);
    }

    private sealed class Tracked
    {
        private readonly PartialJson _json = new();
        private ArrayBufferWriter<byte> _last = new(64);
        private ArrayBufferWriter<byte> _next = new(64);
        private bool _any;

        public ReadOnlySpan<byte> Add(ReadOnlySpan<byte> text)
        {
            _json.Append(text);
            if (_json.Current is not { } value)
            {
                return default;
            }

            _next.ResetWrittenCount();
            using (var w = new Utf8JsonWriter(_next, Options))
            {
                value.WriteTo(w);
            }

            if (_any && _next.WrittenSpan.SequenceEqual(_last.WrittenSpan))
            {
                return default;
            }

            _any = true;
            (_last, _next) = (_next, _last);
            return _last.WrittenSpan;
        }
    }
}
