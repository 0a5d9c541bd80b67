namespace Tokenflow.Core.Generation;

/// <summary>
/// Finds stop sequences in streamed text even when they span pieces, holding back only the
/// ambiguous tail: the longest suffix of the text so far that is a prefix of some stop sequence.
/// Text before a match is released; the stop sequence itself and anything after are never released.
/// Works on UTF-8 bytes of whole characters. Not thread-safe; one per generation.
/// </summary>
public sealed class StopSequenceMatcher
{
    private readonly byte[][] _stops;
    private readonly string[] _strings;
    private byte[] _buffer;
    private byte[] _scratch = new byte[256];
    private int _held;

    /// <summary>Creates a matcher for <paramref name="stops"/> (empty strings are ignored).</summary>
    public StopSequenceMatcher(IEnumerable<string>? stops)
    {
        _strings = stops?.Where(s => s.Length > 0).ToArray() ?? [];
        _stops = _strings.Select(s => System.Text.Encoding.UTF8.GetBytes(s)).ToArray();
        _buffer = new byte[256];
    }

    /// <summary>True when at least one stop sequence is set.</summary>
    public bool IsActive => _stops.Length > 0;

    /// <summary>The stop sequence that matched, once <see cref="Push"/> returned true; else null.</summary>
    public string? Matched { get; private set; }

    /// <summary>Bytes currently held back.</summary>
    public int HeldBytes => _held;

    /// <summary>
    /// Adds text. Returns the text that is now safe to release in <paramref name="release"/> (valid
    /// until the next call) and true when a stop sequence matched — the caller then ends the
    /// generation and must not push more.
    /// </summary>
    public bool Push(ReadOnlySpan<byte> text, out ReadOnlySpan<byte> release)
    {
        if (_stops.Length == 0)
        {
            release = text;
            return false;
        }

        if (_buffer.Length < _held + text.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_held + text.Length, _buffer.Length * 2));
        }

        text.CopyTo(_buffer.AsSpan(_held));
        var all = _buffer.AsSpan(0, _held + text.Length);

        // A match can only start in the held tail or the new text. The match that completes first
        // wins (on a tie, the longest): that is where a model streaming one character at a time
        // stops, so the output never depends on how the text was cut into pieces.
        var first = -1;
        var firstEnd = int.MaxValue;
        var matched = -1;
        for (var i = 0; i < _stops.Length; i++)
        {
            var stop = _stops[i];
            var at = all.IndexOf(stop);
            var end = at + stop.Length;
            if (at >= 0 && (end < firstEnd || (end == firstEnd && at < first)))
            {
                first = at;
                firstEnd = end;
                matched = i;
            }
        }

        if (first >= 0)
        {
            Matched = _strings[matched];
            release = all[..first];
            _held = 0;
            return true;
        }

        var keep = AmbiguousTailLength(all);
        var releaseLength = all.Length - keep;
        release = ReleaseAndKeep(all, releaseLength);
        return false;
    }

    /// <summary>Ends the input without a match: returns the held tail, which is plain text after all.</summary>
    public ReadOnlySpan<byte> Flush()
    {
        var tail = _buffer.AsSpan(0, _held);
        _held = 0;
        return tail;
    }

    private ReadOnlySpan<byte> ReleaseAndKeep(Span<byte> all, int releaseLength)
    {
        var keep = all.Length - releaseLength;
        if (keep == 0)
        {
            _held = 0;
            return all;
        }

        // Released bytes are copied out so the held tail can move to the front of the buffer.
        var output = _scratch.Length >= releaseLength ? _scratch : (_scratch = new byte[Math.Max(releaseLength, _scratch.Length * 2)]);
        all[..releaseLength].CopyTo(output);
        all[releaseLength..].CopyTo(_buffer);
        _held = keep;
        return output.AsSpan(0, releaseLength);
    }

    private int AmbiguousTailLength(ReadOnlySpan<byte> all)
    {
        var best = 0;
        foreach (var stop in _stops)
        {
            var max = Math.Min(stop.Length - 1, all.Length);
            for (var k = max; k > best; k--)
            {
                if (all[^k..].SequenceEqual(stop.AsSpan(0, k)))
                {
                    best = k;
                    break;
                }
            }
        }

        return best;
    }
}
