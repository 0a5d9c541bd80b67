namespace Tokenflow.LlamaCpp.Grammar;

/// <summary>
/// Follows compact JSON output byte by byte and tells when its top-level object or array has closed. The
/// grammar allows nothing after it, so the sequence can end right there instead of sampling (and decoding) one
/// more step for the end-of-generation token. A top-level scalar never reports an end: the model's
/// end-of-generation token, the only one the grammar then allows, ends it.
/// </summary>
internal sealed class JsonValueEnd
{
    private int _depth;
    private bool _inString;
    private bool _escaped;
    private bool _scalar;

    /// <summary>True once the top-level container closed.</summary>
    public bool Reached { get; private set; }

    /// <summary>Feeds the next bytes of output; returns <see cref="Reached"/>.</summary>
    public bool Feed(ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            if (Reached || _scalar)
            {
                break;
            }

            if (_inString)
            {
                if (_escaped)
                {
                    _escaped = false;
                }
                else if (b == '\\')
                {
                    _escaped = true;
                }
                else if (b == '"')
                {
                    _inString = false;
                }

                continue;
            }

            switch (b)
            {
                case (byte)'{' or (byte)'[':
                    _depth++;
                    break;
                case (byte)'}' or (byte)']':
                    _depth--;
                    Reached = _depth == 0;
                    break;
                case (byte)'"' when _depth > 0:
                    _inString = true;
                    break;
                default:
                    // A scalar at the top level: its end is left to the model.
                    _scalar = _depth == 0;
                    break;
            }
        }

        return Reached;
    }
}
