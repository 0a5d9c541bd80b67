using System.Text;
using System.Text.Json.Nodes;

namespace Tokenflow.Core.Json;

/// <summary>
/// The tolerant recursive-descent reader behind <see cref="PartialJson"/>. Every method returns what it
/// could read and whether the value ended properly; running out of input, or meeting an invalid character,
/// stops the whole parse (<see cref="_stopped"/>) and every open container is returned as it stands.
/// </summary>
internal ref struct PartialJsonParser
{
    /// <summary>Deeper documents are cut at this depth rather than risk the stack.</summary>
    private const int MaxDepth = 512;

    private readonly ReadOnlySpan<char> _s;
    private readonly bool _final;
    private readonly IReadOnlyList<JsonPathSegment>? _target;
    private int _i;
    private bool _stopped;

    /// <param name="text">The JSON text so far.</param>
    /// <param name="final">True when no more text will come: a number at the very end is then complete.</param>
    /// <param name="target">A path whose value to report once complete (<see cref="TargetComplete"/>), or null.</param>
    public PartialJsonParser(ReadOnlySpan<char> text, bool final, JsonPath? target = null)
    {
        _s = text;
        _final = final;
        _target = target?.Segments;
        _i = 0;
        _stopped = false;
        TargetComplete = false;
        TargetValue = null;
    }

    /// <summary>True when the value at the target path was read to its end (the parser moved past it).</summary>
    public bool TargetComplete { get; private set; }

    /// <summary>The value at the target path, when <see cref="TargetComplete"/>.</summary>
    public JsonNode? TargetValue { get; private set; }

    public JsonNode? ParseDocument(out bool complete)
    {
        if (_s.Length > 0 && _s[0] == '\uFEFF')
        {
            _i = 1;
        }

        SkipWhitespace();
        var present = ParseValue(0, out var node, _target is null ? -1 : 0);
        complete = present && !_stopped;
        return present ? node : null;
    }

    /// <summary>
    /// Reads one value and, when it is the target (<paramref name="matched"/> = every target segment) and ended
    /// properly, reports it. <paramref name="matched"/>: how many target segments lead here, -1 when off the path.
    /// </summary>
    private bool ParseValue(int depth, out JsonNode? node, int matched)
    {
        var present = ParseValueCore(depth, out node, matched);
        if (present && !_stopped && _target is not null && matched == _target.Count)
        {
            TargetComplete = true;
            TargetValue = node?.DeepClone();
        }

        return present;
    }

    /// <summary>The segments matched by a child of a value that matched <paramref name="matched"/> segments.</summary>
    private readonly int ChildMatched(int matched, string? name, int index)
    {
        if (matched < 0 || _target is null || matched >= _target.Count)
        {
            return -1;
        }

        var segment = _target[matched];
        return (name is not null ? segment.Name == name : segment.Index == index) ? matched + 1 : -1;
    }

    /// <summary>Reads one value. False when no value could be given (nothing started, or a scalar not yet complete).</summary>
    private bool ParseValueCore(int depth, out JsonNode? node, int matched)
    {
        node = null;
        if (_i >= _s.Length)
        {
            _stopped = true;
            return false;
        }

        switch (_s[_i])
        {
            case '{':
                if (depth >= MaxDepth)
                {
                    _stopped = true;
                    return false;
                }

                node = ParseObject(depth + 1, matched);
                return true;
            case '[':
                if (depth >= MaxDepth)
                {
                    _stopped = true;
                    return false;
                }

                node = ParseArray(depth + 1, matched);
                return true;
            case '"':
                node = JsonValue.Create(ParseString(out _));
                return true;
            case 't':
                return ParseLiteral("true", JsonValue.Create(true), out node);
            case 'f':
                return ParseLiteral("false", JsonValue.Create(false), out node);
            case 'n':
                return ParseLiteral("null", null, out node);
            default:
                return ParseNumber(out node);
        }
    }

    private JsonObject ParseObject(int depth, int matched)
    {
        var obj = new JsonObject();
        _i++;
        while (true)
        {
            SkipWhitespace();
            if (_i >= _s.Length)
            {
                _stopped = true;
                return obj;
            }

            if (_s[_i] == '}')
            {
                _i++;
                return obj;
            }

            if (_s[_i] == ',' && obj.Count > 0)
            {
                _i++;
                SkipWhitespace();
            }

            if (_i >= _s.Length || _s[_i] != '"')
            {
                _stopped = true;
                return obj;
            }

            var name = ParseString(out var nameEnded);
            if (!nameEnded)
            {
                // The member name is cut: leave the member out until its name is whole.
                return obj;
            }

            SkipWhitespace();
            if (_i >= _s.Length || _s[_i] != ':')
            {
                _stopped = true;
                return obj;
            }

            _i++;
            SkipWhitespace();
            if (ParseValue(depth, out var value, ChildMatched(matched, name, -1)))
            {
                obj[name] = value;
            }

            if (_stopped)
            {
                return obj;
            }
        }
    }

    private JsonArray ParseArray(int depth, int matched)
    {
        var array = new JsonArray();
        _i++;
        var first = true;
        while (true)
        {
            SkipWhitespace();
            if (_i >= _s.Length)
            {
                _stopped = true;
                return array;
            }

            if (_s[_i] == ']')
            {
                _i++;
                return array;
            }

            if (!first)
            {
                if (_s[_i] != ',')
                {
                    _stopped = true;
                    return array;
                }

                _i++;
                SkipWhitespace();
            }

            first = false;
            if (ParseValue(depth, out var value, ChildMatched(matched, null, array.Count)))
            {
                array.Add(value);
            }

            if (_stopped)
            {
                return array;
            }
        }
    }

    /// <summary>
    /// Reads a string from its opening quote. When input ends inside it (or inside an escape) the text so far
    /// is returned, without an escape or a high surrogate whose other half has not arrived.
    /// </summary>
    private string ParseString(out bool ended)
    {
        _i++;
        var start = _i;
        var plain = _s[start..].IndexOfAny('"', '\\');
        if (plain >= 0 && _s[start + plain] == '"')
        {
            // The common case: no escapes.
            _i = start + plain + 1;
            ended = true;
            return new string(_s.Slice(start, plain));
        }

        var text = new StringBuilder();
        while (true)
        {
            var rest = _s[_i..];
            var next = rest.IndexOfAny('"', '\\');
            if (next < 0)
            {
                text.Append(rest);
                _i = _s.Length;
                return Cut(text, out ended);
            }

            text.Append(rest[..next]);
            _i += next;
            if (_s[_i] == '"')
            {
                _i++;
                ended = true;
                return text.ToString();
            }

            if (_i + 1 >= _s.Length)
            {
                _i = _s.Length;
                return Cut(text, out ended);
            }

            var escape = _s[_i + 1];
            switch (escape)
            {
                case '"': text.Append('"'); break;
                case '\\': text.Append('\\'); break;
                case '/': text.Append('/'); break;
                case 'b': text.Append('\b'); break;
                case 'f': text.Append('\f'); break;
                case 'n': text.Append('\n'); break;
                case 'r': text.Append('\r'); break;
                case 't': text.Append('\t'); break;
                case 'u':
                    if (_i + 6 > _s.Length)
                    {
                        _i = _s.Length;
                        return Cut(text, out ended);
                    }

                    if (!ushort.TryParse(_s.Slice(_i + 2, 4), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var code))
                    {
                        _i = _s.Length;
                        return Cut(text, out ended);
                    }

                    text.Append((char)code);
                    _i += 6;
                    continue;
                default:
                    _i = _s.Length;
                    return Cut(text, out ended);
            }

            _i += 2;
        }
    }

    /// <summary>Ends a string that input cut: drops a dangling high surrogate so the text is a prefix of the final one.</summary>
    private string Cut(StringBuilder text, out bool ended)
    {
        _stopped = true;
        ended = false;
        if (text.Length > 0 && char.IsHighSurrogate(text[^1]))
        {
            text.Length--;
        }

        return text.ToString();
    }

    private bool ParseLiteral(string literal, JsonNode? value, out JsonNode? node)
    {
        node = null;
        var available = Math.Min(literal.Length, _s.Length - _i);
        if (!_s.Slice(_i, available).SequenceEqual(literal.AsSpan(0, available)) || available < literal.Length)
        {
            _stopped = true;
            return false;
        }

        _i += literal.Length;
        node = value;
        return true;
    }

    /// <summary>
    /// Reads a number. One at the very end of the text could still grow ("12" → "123"), so it is left out
    /// unless the text is final.
    /// </summary>
    private bool ParseNumber(out JsonNode? node)
    {
        node = null;
        var start = _i;
        var j = _i;
        if (j < _s.Length && _s[j] == '-')
        {
            j++;
        }

        var intStart = j;
        while (j < _s.Length && char.IsAsciiDigit(_s[j]))
        {
            j++;
        }

        if (j == intStart)
        {
            _stopped = true;
            return false;
        }

        var end = j;
        if (j < _s.Length && _s[j] == '.')
        {
            var fraction = ++j;
            while (j < _s.Length && char.IsAsciiDigit(_s[j]))
            {
                j++;
            }

            end = j > fraction ? j : end;
        }

        if (end == j && j < _s.Length && (_s[j] == 'e' || _s[j] == 'E'))
        {
            j++;
            if (j < _s.Length && (_s[j] == '+' || _s[j] == '-'))
            {
                j++;
            }

            var exponent = j;
            while (j < _s.Length && char.IsAsciiDigit(_s[j]))
            {
                j++;
            }

            end = j > exponent ? j : end;
        }

        // "1." or "1e" with nothing valid after (cut input, or invalid text), or a number that may go on.
        if (end != j || (j >= _s.Length && !_final))
        {
            _stopped = true;
            return false;
        }

        _i = j;

        try
        {
            node = JsonNode.Parse(new string(_s[start..end]));
            return true;
        }
        catch (System.Text.Json.JsonException)
        {
            // Not a JSON number after all ("01"): stop here, as at any invalid character.
            _stopped = true;
            return false;
        }
    }

    private void SkipWhitespace()
    {
        while (_i < _s.Length && _s[_i] is ' ' or '\t' or '\n' or '\r')
        {
            _i++;
        }
    }
}
