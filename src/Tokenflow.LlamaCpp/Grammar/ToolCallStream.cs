using Tokenflow.Core.Backends;

namespace Tokenflow.LlamaCpp.Grammar;

/// <summary>
/// Turns the grammar-constrained output <c>{"name":"f","arguments":{…}}</c> into tool-call pieces as it
/// streams: a <see cref="TokenPiece.ToolCallStart"/> as soon as the name is complete, then
/// <see cref="TokenPiece.ToolCallArguments"/> for every later token, so that the fragments concatenated are
/// exactly the arguments JSON. The wrapper's closing <c>}</c> is the last byte of the output, so one byte is
/// always held back until the next token shows it was not the last. Not thread-safe.
/// </summary>
internal sealed class ToolCallStream
{
    private readonly IReadOnlyList<ToolCallTarget> _targets;
    private readonly string _callId;
    private byte[] _buffer = new byte[256];
    private int _length;
    private bool _started;

    /// <summary>Creates the parser for output that calls one of <paramref name="targets"/>, under the call id <paramref name="callId"/>.</summary>
    public ToolCallStream(IReadOnlyList<ToolCallTarget> targets, string callId)
    {
        _targets = targets;
        _callId = callId;
    }

    /// <summary>The function called, once its name is complete.</summary>
    public string? Name { get; private set; }

    /// <summary>
    /// Feeds the bytes of the next token; returns true with the piece to pass on (its bytes are valid until the
    /// next call), false while the name is not complete yet or nothing new is ready.
    /// </summary>
    public bool TryFeed(ReadOnlySpan<byte> bytes, int tokenId, out TokenPiece piece)
    {
        Append(bytes);
        piece = default;
        if (!_started)
        {
            foreach (var target in _targets)
            {
                if (_length >= target.Header.Length && _buffer.AsSpan(0, target.Header.Length).SequenceEqual(target.Header))
                {
                    _started = true;
                    Name = target.Name;
                    _buffer.AsSpan(target.Header.Length, _length - target.Header.Length).CopyTo(_buffer);
                    _length -= target.Header.Length;
                    piece = TokenPiece.ToolCallStart(0, _callId, target.Name, TakeAllButLast(), tokenId);
                    return true;
                }
            }

            return false;
        }

        if (_length <= 1)
        {
            return false;
        }

        piece = TokenPiece.ToolCallArguments(0, TakeAllButLast(), tokenId);
        return true;
    }

    /// <summary>
    /// Ends the stream: when <paramref name="complete"/> (the grammar's end was reached) the held-back byte is
    /// the wrapper's <c>}</c> and is dropped; when cut short, it is part of the arguments and is passed on. Before
    /// the name was complete, the raw output is returned as text.
    /// </summary>
    public bool TryFinish(bool complete, out TokenPiece piece)
    {
        piece = default;
        if (!_started)
        {
            if (_length == 0)
            {
                return false;
            }

            piece = new TokenPiece(_buffer.AsMemory(0, _length));
            _length = 0;
            return true;
        }

        if (_length == 0 || complete)
        {
            _length = 0;
            return false;
        }

        piece = TokenPiece.ToolCallArguments(0, _buffer.AsMemory(0, _length));
        _length = 0;
        return true;
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (_length + bytes.Length > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + bytes.Length));
        }

        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    /// <summary>Everything but the last byte, as a copy (the buffer is reused); the last byte stays.</summary>
    private ReadOnlyMemory<byte> TakeAllButLast()
    {
        if (_length <= 1)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        var taken = _buffer.AsSpan(0, _length - 1).ToArray();
        _buffer[0] = _buffer[_length - 1];
        _length = 1;
        return taken;
    }
}
