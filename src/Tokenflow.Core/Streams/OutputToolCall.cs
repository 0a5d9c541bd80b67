using System.Buffers;
using System.Text;

namespace Tokenflow.Core.Streams;

/// <summary>One tool call of a <see cref="StreamOutput"/>: its index, id, function name and the arguments text so far.</summary>
public sealed class OutputToolCall
{
    private readonly ArrayBufferWriter<byte> _arguments = new(64);

    internal OutputToolCall(int index) => Index = index;

    /// <summary>The call's index in the model's output.</summary>
    public int Index { get; }

    /// <summary>The call's id (empty until its first fragment).</summary>
    public string Id { get; internal set; } = string.Empty;

    /// <summary>The function's name (empty until its first fragment).</summary>
    public string Name { get; internal set; } = string.Empty;

    /// <summary>The arguments JSON text so far, UTF-8.</summary>
    public ReadOnlySpan<byte> Arguments => _arguments.WrittenSpan;

    /// <summary>The arguments JSON text so far.</summary>
    public string ArgumentsText => Encoding.UTF8.GetString(_arguments.WrittenSpan);

    internal void Append(ReadOnlySpan<byte> text) => _arguments.Write(text);
}
