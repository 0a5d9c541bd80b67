using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Tokenflow.Core.Json;
using Tokenflow.Core.Streams;

namespace Tokenflow.Core.Watches;

/// <summary>
/// The watches of one running generation, evaluated by its generation task after every content delta it
/// appends (so a watch fires at exactly the delta that completed its match, and <c>cancel_on</c> stops the
/// model before the next token). Watches added while it runs (<c>POST /v1/streams/{id}/watches</c>) are
/// queued from any thread and join at the next delta; the text is kept only while the stream has watches, so
/// a watch added to a stream that had none sees the output from that delta on.
/// </summary>
internal sealed partial class WatchSet
{
    // A JSON value can only become complete at a character that ends it: a quote or bracket, what follows
    // a number, or the last letter of true, false and null.
    private static readonly SearchValues<byte> ValueEnds = SearchValues.Create("\"}],\t\n\r el"u8);
    private static readonly JsonWriterOptions MatchJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly ILogger _logger;
    private readonly List<WatchSpec> _active = [];
    private readonly ConcurrentQueue<WatchSpec> _added = new();
    private readonly ConcurrentDictionary<string, byte> _ids = new(StringComparer.Ordinal);
    private readonly Decoder _utf8 = Encoding.UTF8.GetDecoder();
    private char[] _text = [];
    private int _length;
    private PartialJson? _json;

    public WatchSet(IReadOnlyList<WatchSpec>? watches, string? cancelOn, ILogger logger)
    {
        _logger = logger;
        CancelOn = cancelOn;
        foreach (var watch in watches ?? [])
        {
            TryAdd(watch);
        }
    }

    /// <summary>The id of the watch whose firing cancels the generation, or null.</summary>
    public string? CancelOn { get; }

    /// <summary>Queues a watch; false when the stream already has one with this id.</summary>
    public bool TryAdd(WatchSpec watch)
    {
        if (!_ids.TryAdd(watch.Id, 0))
        {
            return false;
        }

        _added.Enqueue(watch);
        return true;
    }

    /// <summary>
    /// Adds <paramref name="text"/> (content just appended as event <paramref name="seq"/>) and appends a watch
    /// event for each watch that now matches. Returns false when the store refused an event; sets
    /// <paramref name="cancel"/> when the <see cref="CancelOn"/> watch fired.
    /// </summary>
    public bool OnContent(IStreamWriter writer, long seq, ReadOnlySpan<byte> text, out bool cancel)
    {
        cancel = false;
        while (_added.TryDequeue(out var watch))
        {
            _active.Add(watch);
        }

        // Without watches nothing is kept: a stream that asked for none pays no copy of its text.
        if (_active.Count == 0)
        {
            return true;
        }

        Append(text);

        var structural = text.IndexOfAny(ValueEnds) >= 0;
        for (var i = 0; i < _active.Count; i++)
        {
            var watch = _active[i];
            string? match = null;
            if (watch.Regex is { } regex)
            {
                try
                {
                    foreach (var found in regex.EnumerateMatches(_text.AsSpan(0, _length)))
                    {
                        match = Quote(_text.AsSpan(found.Index, found.Length));
                        break;
                    }
                }
                catch (RegexMatchTimeoutException)
                {
                    LogWatchTimedOut(_logger, watch.Id, WatchSpec.RegexTimeout.TotalMilliseconds);
                    _active.RemoveAt(i--);
                    continue;
                }
            }
            else if (structural && (_json ??= NewJson()).TryGetComplete(watch.JsonPath!, out var value))
            {
                match = value?.ToJsonString() ?? "null";
            }

            if (match is null)
            {
                continue;
            }

            _active.RemoveAt(i--);
            if (!writer.TryAppendWatch(new WatchMatch(watch.Id, seq, match)))
            {
                return false;
            }

            cancel |= watch.Id == CancelOn;
        }

        return true;
    }

    private static string Quote(ReadOnlySpan<char> text)
    {
        var buffer = new ArrayBufferWriter<byte>(text.Length + 16);
        using (var w = new Utf8JsonWriter(buffer, MatchJson))
        {
            w.WriteStringValue(text);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Watch {WatchId} dropped: its regex took longer than {TimeoutMs} ms on the text so far")]
    private static partial void LogWatchTimedOut(ILogger logger, string watchId, double timeoutMs);

    private PartialJson NewJson()
    {
        var json = new PartialJson();
        json.Append(_text.AsSpan(0, _length));
        return json;
    }

    private void Append(ReadOnlySpan<byte> text)
    {
        var count = _utf8.GetCharCount(text, flush: false);
        if (_text.Length < _length + count)
        {
            Array.Resize(ref _text, Math.Max(_length + count, Math.Max(256, _text.Length * 2)));
        }

        var written = _utf8.GetChars(text, _text.AsSpan(_length), flush: false);
        _json?.Append(_text.AsSpan(_length, written));
        _length += written;
    }
}
