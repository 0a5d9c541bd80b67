using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;

namespace Tokenflow.Core.Json;

/// <summary>
/// Turns a JSON document arriving as text deltas into progressively more complete <see cref="JsonNode"/>s, so
/// an agent can act on a field of a structured answer before the answer is complete. At every prefix of a
/// valid document the value is the document so far: open objects and arrays are closed, a string cut
/// anywhere (inside an escape, between the halves of a surrogate pair) holds the text so far, and members
/// whose name or value has not started yet are left out. Numbers and <c>true</c>/<c>false</c>/<c>null</c>
/// appear only once complete (a number at the very end of the text only after <see cref="End"/>), so no
/// value is ever shown that the final document contradicts: each result is a prefix, member by member, of
/// the next. Never throws on input: at the first character that is not valid JSON it keeps what it had.
/// Not thread-safe.
/// </summary>
/// <example>
/// <code>
/// var json = new PartialJson();
/// await foreach (var e in client.StreamChatAsync(request))
/// {
///     json.Append(e.Text);
///     if (json.Current?["title"] is { } title) Console.WriteLine(title);
/// }
/// </code>
/// </example>
public sealed class PartialJson
{
    private readonly StringBuilder _text = new();
    private readonly Decoder _utf8 = Encoding.UTF8.GetDecoder();
    private char[] _chars = [];
    private JsonNode? _current;
    private bool _complete;
    private bool _stale;
    private bool _ended;

    /// <summary>The text received so far.</summary>
    public string Text => _text.ToString();

    /// <summary>
    /// The value of the text so far (re-read after each append, on first access), or null when no value has
    /// started. Each read after an append returns a new tree, so earlier results stay as they were.
    /// </summary>
    public JsonNode? Current
    {
        get
        {
            Refresh();
            return _current;
        }
    }

    /// <summary>True when the text so far holds a complete JSON value.</summary>
    public bool IsComplete
    {
        get
        {
            Refresh();
            return _complete;
        }
    }

    /// <summary>Adds a text delta; null and empty deltas are ignored.</summary>
    public void Append(string? delta) => Append(delta.AsSpan());

    /// <summary>Adds a text delta.</summary>
    public void Append(ReadOnlySpan<char> delta)
    {
        if (_ended)
        {
            throw new InvalidOperationException("The text was ended with End(); create a new PartialJson for another document.");
        }

        if (!delta.IsEmpty)
        {
            _text.Append(delta);
            _stale = true;
        }
    }

    /// <summary>Adds UTF-8 bytes; a character split across calls is held until its last byte arrives.</summary>
    public void Append(ReadOnlySpan<byte> utf8)
    {
        var count = _utf8.GetCharCount(utf8, flush: false);
        if (_chars.Length < count)
        {
            _chars = new char[Math.Max(count, 256)];
        }

        var written = _utf8.GetChars(utf8, _chars, flush: false);
        Append(_chars.AsSpan(0, written));
    }

    /// <summary>
    /// Says that no more text will come (the stream ended): a number at the very end of the text now counts
    /// as complete, so a document that is a bare number gets its value.
    /// </summary>
    public void End()
    {
        _ended = true;
        _stale = true;
    }

    /// <summary>The value of a (possibly incomplete) JSON text, by the rules of <see cref="PartialJson"/>; null when no value has started.</summary>
    public static JsonNode? Parse(ReadOnlySpan<char> json) => Parse(json, out _);

    /// <summary>The value of a (possibly incomplete) JSON text; <paramref name="complete"/> tells whether the value was complete.</summary>
    public static JsonNode? Parse(ReadOnlySpan<char> json, out bool complete) => new PartialJsonParser(json, final: false).ParseDocument(out complete);

    /// <summary>
    /// The value at <paramref name="path"/> once it is complete in the text so far (the text has moved past its
    /// end: a closing quote or bracket, or the separator after a number or literal); false while it is missing or
    /// still growing. The same rule as <see cref="Current"/>: a complete value never changes afterwards.
    /// </summary>
    public bool TryGetComplete(JsonPath path, out JsonNode? value)
    {
        ArgumentNullException.ThrowIfNull(path);
        var parser = new PartialJsonParser(_text.ToString(), _ended, path);
        parser.ParseDocument(out _);
        value = parser.TargetValue;
        return parser.TargetComplete;
    }

    /// <summary>
    /// Reads text deltas and yields the value each time it changes (a delta that only extends a member name,
    /// say, yields nothing). Each yielded node is a separate tree.
    /// </summary>
    public static async IAsyncEnumerable<JsonNode?> ParseAsync(IAsyncEnumerable<string?> deltas, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(deltas);
        var json = new PartialJson();
        JsonNode? previous = null;
        var any = false;
        await foreach (var delta in deltas.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            json.Append(delta);
            if (json.Current is { } current && !(any && JsonNode.DeepEquals(previous, current)))
            {
                any = true;
                previous = current;
                yield return current;
            }
        }

        json.End();
        if (json.Current is { } last && !(any && JsonNode.DeepEquals(previous, last)))
        {
            yield return last;
        }
    }

    private void Refresh()
    {
        if (_stale)
        {
            _current = new PartialJsonParser(_text.ToString(), _ended).ParseDocument(out _complete);
            _stale = false;
        }
    }
}
