using System.Buffers;
using System.Text.Json;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Streams;

namespace Tokenflow.Upstreams.Protocols;

/// <summary>
/// The pieces parsed out of one upstream event, their bytes copied (unescaped) into one reused buffer:
/// no string per token. Valid until <see cref="Clear"/>, which the next event's parse calls, matching
/// <see cref="TokenPiece"/>'s "valid until the next piece is asked for". Single-threaded.
/// </summary>
internal sealed class PieceBatch : IDisposable
{
    private byte[] _bytes = ArrayPool<byte>.Shared.Rent(1024);
    private Entry[] _entries = new Entry[4];
    private int _used;

    public int Count { get; private set; }

    public TokenPiece this[int index]
    {
        get
        {
            ref readonly var e = ref _entries[index];
            var bytes = new ReadOnlyMemory<byte>(_bytes, e.Start, e.Length);
            return e.Channel switch
            {
                DeltaChannel.Reasoning => TokenPiece.Reasoning(bytes),
                DeltaChannel.Refusal => TokenPiece.Refusal(bytes),
                DeltaChannel.ToolCall when e.Id is not null => TokenPiece.ToolCallStart(e.Index, e.Id, e.Name ?? string.Empty, bytes),
                DeltaChannel.ToolCall => TokenPiece.ToolCallArguments(e.Index, bytes),
                _ => new TokenPiece(bytes),
            };
        }
    }

    public void Clear()
    {
        Count = 0;
        _used = 0;
    }

    /// <summary>Adds the string value under <paramref name="reader"/> (unescaped); an empty string adds nothing unless it starts a tool call.</summary>
    public void AddString(ref Utf8JsonReader reader, DeltaChannel channel, int index = 0, string? id = null, string? name = null)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            if (id is not null)
            {
                Add([], channel, index, id, name);
            }

            return;
        }

        var max = reader.HasValueSequence ? (int)reader.ValueSequence.Length : reader.ValueSpan.Length;
        if (max == 0 && id is null)
        {
            return;
        }

        Reserve(max);
        var written = reader.CopyString(_bytes.AsSpan(_used, max));
        Push(channel, index, id, name, written);
    }

    /// <summary>Adds raw bytes (e.g. a tool call's arguments object, copied as JSON text).</summary>
    public void Add(ReadOnlySpan<byte> bytes, DeltaChannel channel, int index = 0, string? id = null, string? name = null)
    {
        if (bytes.IsEmpty && id is null)
        {
            return;
        }

        Reserve(bytes.Length);
        bytes.CopyTo(_bytes.AsSpan(_used));
        Push(channel, index, id, name, bytes.Length);
    }

    private void Push(DeltaChannel channel, int index, string? id, string? name, int length)
    {
        if (Count == _entries.Length)
        {
            Array.Resize(ref _entries, Count * 2);
        }

        _entries[Count++] = new Entry(channel, index, id, name, _used, length);
        _used += length;
    }

    private void Reserve(int length)
    {
        if (_used + length <= _bytes.Length)
        {
            return;
        }

        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_bytes.Length * 2, _used + length));
        _bytes.AsSpan(0, _used).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_bytes);
        _bytes = bigger;
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_bytes);
        _bytes = [];
    }

    private readonly record struct Entry(DeltaChannel Channel, int Index, string? Id, string? Name, int Start, int Length);
}
