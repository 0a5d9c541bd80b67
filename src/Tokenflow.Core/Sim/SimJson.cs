using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Tokenflow.Core.Sim;

/// <summary>
/// The simulator's JSON: a value generated from a seed that validates against a JSON Schema, for
/// tool-call arguments and <c>response_format</c> answers. Understands <c>type</c> (one or a list),
/// <c>object</c> (<c>properties</c>, <c>required</c>, <c>additionalProperties</c>,
/// <c>min/maxProperties</c>), <c>string</c> (<c>min/maxLength</c>, common <c>format</c>s),
/// <c>number</c> and <c>integer</c> (<c>minimum</c>, <c>maximum</c>, both <c>exclusive</c> forms,
/// <c>multipleOf</c>), <c>boolean</c>, <c>null</c>, <c>enum</c>, <c>const</c>, <c>array</c>
/// (<c>items</c>, <c>prefixItems</c>, <c>min/maxItems</c>, <c>uniqueItems</c>), <c>anyOf</c>,
/// <c>oneOf</c>, <c>allOf</c> (merged shallowly) and local <c>$ref</c>s (<c>#/$defs/…</c>,
/// <c>#/definitions/…</c>, <c>#</c>). <c>pattern</c> is not honoured. Strings use non-ASCII
/// characters (all in the Basic Multilingual Plane, so a string's length is the same in UTF-16,
/// code points and graphemes), written unescaped, so fragments of the output split characters.
/// </summary>
internal sealed class SimJson
{
    /// <summary>Below this depth optional properties and extra array items are left out, so recursive schemas end.</summary>
    private const int DeepDepth = 6;

    /// <summary>A hard stop for <c>$ref</c> cycles whose every step is required.</summary>
    private const int MaxDepth = 64;

    private const double DefaultRange = 100;

    /// <summary>After this many values only what the schema requires is written (a schema whose required properties branch out grows fast).</summary>
    private const int SoftValueLimit = 500;

    /// <summary>After this many values every further value is a short string: output stays bounded whatever the schema.</summary>
    private const int HardValueLimit = 4_000;

    private static readonly string[] Words =
    [
        "stream", "token", "agent", "reader", "piece", "model", "delta", "Zürich", "São Paulo", "café",
        "naïve", "jalapeño", "façade", "東京", "日本語", "Ελλάδα", "мир", "Привет", "한국어", "über", "ok", "north",
    ];

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Raw UTF-8 rather than \uXXXX escapes, as models write JSON: a fragment can split a character.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private readonly JsonElement _root;
    private SplitMix64 _rng;
    private int _values;

    private SimJson(JsonElement root, SplitMix64 rng)
    {
        _root = root;
        _rng = rng;
    }

    /// <summary>
    /// UTF-8 JSON valid against <paramref name="schema"/> (null = any small object), the same for
    /// the same schema and <paramref name="rng"/> state.
    /// </summary>
    public static byte[] Generate(JsonElement? schema, SplitMix64 rng)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            var json = new SimJson(schema ?? default, rng);
            if (schema is null)
            {
                json.WriteFreeObject(writer, DeepDepth - 1);
            }
            else
            {
                json.Write(writer, schema.Value, 0);
            }
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Whether only required parts are written now: deep in the value, or past the soft budget.</summary>
    private bool Lean(int depth) => depth >= DeepDepth || _values > SoftValueLimit;

    private void Write(Utf8JsonWriter writer, JsonElement schema, int depth)
    {
        if (schema.ValueKind != JsonValueKind.Object || depth > MaxDepth || ++_values > HardValueLimit)
        {
            // true, {} or anything unusable: any value is valid.
            WriteWords(writer, null, null);
            return;
        }

        if (schema.TryGetProperty("$ref", out var reference) && reference.ValueKind == JsonValueKind.String)
        {
            Write(writer, Resolve(reference.GetString()!), depth + 1);
            return;
        }

        if (schema.TryGetProperty("const", out var constant))
        {
            constant.WriteTo(writer);
            return;
        }

        if (schema.TryGetProperty("enum", out var values) && values.ValueKind == JsonValueKind.Array && values.GetArrayLength() > 0)
        {
            values[_rng.Next(values.GetArrayLength())].WriteTo(writer);
            return;
        }

        if ((Branch(schema, "anyOf") ?? Branch(schema, "oneOf")) is { } branch)
        {
            Write(writer, branch, depth + 1);
            return;
        }

        if (schema.TryGetProperty("allOf", out var all) && all.ValueKind == JsonValueKind.Array && all.GetArrayLength() > 0)
        {
            Write(writer, Merge(schema, all), depth + 1);
            return;
        }

        switch (TypeOf(schema))
        {
            case "object":
                WriteObject(writer, schema, depth);
                break;
            case "array":
                WriteArray(writer, schema, depth);
                break;
            case "integer":
                WriteInteger(writer, schema);
                break;
            case "number":
                WriteNumber(writer, schema);
                break;
            case "boolean":
                writer.WriteBooleanValue(_rng.NextBool());
                break;
            case "null":
                writer.WriteNullValue();
                break;
            default:
                WriteString(writer, schema);
                break;
        }
    }

    private JsonElement? Branch(JsonElement schema, string keyword)
        => schema.TryGetProperty(keyword, out var branches) && branches.ValueKind == JsonValueKind.Array && branches.GetArrayLength() > 0
            ? branches[_rng.Next(branches.GetArrayLength())]
            : null;

    private string TypeOf(JsonElement schema)
    {
        if (schema.TryGetProperty("type", out var type))
        {
            if (type.ValueKind == JsonValueKind.String)
            {
                return type.GetString()!;
            }

            if (type.ValueKind == JsonValueKind.Array && type.GetArrayLength() > 0)
            {
                var pick = type[_rng.Next(type.GetArrayLength())];
                return pick.ValueKind == JsonValueKind.String ? pick.GetString()! : "string";
            }
        }

        // No type: infer it from the keywords, as a reader of the schema would.
        static bool Has(JsonElement s, string name) => s.TryGetProperty(name, out _);
        return Has(schema, "properties") || Has(schema, "required") || Has(schema, "additionalProperties") ? "object"
            : Has(schema, "items") || Has(schema, "prefixItems") ? "array"
            : Has(schema, "minimum") || Has(schema, "maximum") || Has(schema, "multipleOf") ? "number"
            : "string";
    }

    private JsonElement Resolve(string reference)
    {
        if (reference == "#")
        {
            return _root;
        }

        if (!reference.StartsWith("#/", StringComparison.Ordinal))
        {
            return default;
        }

        var node = _root;
        foreach (var token in reference[2..].Split('/'))
        {
            var name = Uri.UnescapeDataString(token).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (node.ValueKind != JsonValueKind.Object || !node.TryGetProperty(name, out node))
            {
                return default;
            }
        }

        return node;
    }

    /// <summary>allOf: one schema with every branch's properties and required names, and the first word on other keywords.</summary>
    private static JsonElement Merge(JsonElement schema, JsonElement all)
    {
        var properties = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        var required = new List<string>();
        var other = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        void Take(JsonElement part)
        {
            if (part.ValueKind != JsonValueKind.Object)
            {
                return;
            }

            foreach (var keyword in part.EnumerateObject())
            {
                switch (keyword.Name)
                {
                    case "allOf":
                        break;
                    case "properties" when keyword.Value.ValueKind == JsonValueKind.Object:
                        foreach (var property in keyword.Value.EnumerateObject())
                        {
                            properties.TryAdd(property.Name, property.Value);
                        }

                        break;
                    case "required" when keyword.Value.ValueKind == JsonValueKind.Array:
                        required.AddRange(keyword.Value.EnumerateArray().Where(r => r.ValueKind == JsonValueKind.String).Select(r => r.GetString()!).Except(required));
                        break;
                    default:
                        other.TryAdd(keyword.Name, keyword.Value);
                        break;
                }
            }
        }

        Take(schema);
        foreach (var part in all.EnumerateArray())
        {
            Take(part);
        }

        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (name, value) in other)
            {
                writer.WritePropertyName(name);
                value.WriteTo(writer);
            }

            if (properties.Count > 0)
            {
                writer.WriteStartObject("properties");
                foreach (var (name, value) in properties)
                {
                    writer.WritePropertyName(name);
                    value.WriteTo(writer);
                }

                writer.WriteEndObject();
            }

            if (required.Count > 0)
            {
                writer.WriteStartArray("required");
                foreach (var name in required)
                {
                    writer.WriteStringValue(name);
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
        }

        using var merged = JsonDocument.Parse(buffer.WrittenMemory);
        return merged.RootElement.Clone();
    }

    private void WriteObject(Utf8JsonWriter writer, JsonElement schema, int depth)
    {
        var properties = schema.TryGetProperty("properties", out var p) && p.ValueKind == JsonValueKind.Object ? p : default;
        var required = schema.TryGetProperty("required", out var r) && r.ValueKind == JsonValueKind.Array
            ? r.EnumerateArray().Where(n => n.ValueKind == JsonValueKind.String).Select(n => n.GetString()!).Distinct(StringComparer.Ordinal).ToList()
            : [];
        var additional = schema.TryGetProperty("additionalProperties", out var a) ? a : default;
        var closed = additional.ValueKind == JsonValueKind.False;
        var minProperties = (int)Math.Min(Bound(schema, "minProperties") ?? 0, 32);
        var maxProperties = (int)Math.Min(Bound(schema, "maxProperties") ?? int.MaxValue, int.MaxValue);

        if (properties.ValueKind != JsonValueKind.Object && required.Count == 0 && !closed && !Lean(depth) && maxProperties > 0)
        {
            WriteFreeObject(writer, depth, additional, Math.Max(minProperties, 1), maxProperties);
            return;
        }

        // Required names first chosen, then optional ones by a coin (all when minProperties asks).
        var chosen = new HashSet<string>(required, StringComparer.Ordinal);
        var optional = properties.ValueKind == JsonValueKind.Object
            ? properties.EnumerateObject().Select(o => o.Name).Where(n => !chosen.Contains(n)).ToList()
            : [];
        foreach (var name in optional)
        {
            if (chosen.Count < maxProperties && (chosen.Count < minProperties || (!Lean(depth) && _rng.NextBool())))
            {
                chosen.Add(name);
            }
        }

        writer.WriteStartObject();
        if (properties.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in properties.EnumerateObject())
            {
                if (chosen.Remove(property.Name))
                {
                    writer.WritePropertyName(property.Name);
                    Write(writer, property.Value, depth + 1);
                }
            }
        }

        // Required names the schema does not describe take the additionalProperties schema.
        foreach (var name in required.Where(chosen.Contains))
        {
            writer.WritePropertyName(name);
            Write(writer, additional.ValueKind == JsonValueKind.Object ? additional : default, depth + 1);
        }

        writer.WriteEndObject();
    }

    /// <summary>An object with a few word-named keys (json_object, or an object schema without properties).</summary>
    private void WriteFreeObject(Utf8JsonWriter writer, int depth, JsonElement values = default, int min = 1, int max = int.MaxValue)
    {
        var count = (int)Math.Min(_rng.NextInclusive(Math.Max(min, 1), Math.Max(min, 3)), Math.Min(max, Words.Length));
        var names = new HashSet<string>(StringComparer.Ordinal);
        writer.WriteStartObject();
        while (names.Count < count)
        {
            var name = Words[_rng.Next(Words.Length)];
            if (names.Add(name))
            {
                writer.WritePropertyName(name);
                if (values.ValueKind == JsonValueKind.Object)
                {
                    Write(writer, values, depth + 1);
                }
                else
                {
                    WriteWords(writer, null, null);
                }
            }
        }

        writer.WriteEndObject();
    }

    private void WriteArray(Utf8JsonWriter writer, JsonElement schema, int depth)
    {
        var prefix = schema.TryGetProperty("prefixItems", out var pi) && pi.ValueKind == JsonValueKind.Array ? pi
            : schema.TryGetProperty("items", out var ti) && ti.ValueKind == JsonValueKind.Array ? ti
            : default;
        var prefixCount = prefix.ValueKind == JsonValueKind.Array ? prefix.GetArrayLength() : 0;
        var items = schema.TryGetProperty("items", out var it) && it.ValueKind is JsonValueKind.Object or JsonValueKind.True or JsonValueKind.False ? it : default;
        var min = (int)Math.Min(Bound(schema, "minItems") ?? 0, 64);
        var max = (int)Math.Min(Bound(schema, "maxItems") ?? long.MaxValue, int.MaxValue);
        if (items.ValueKind == JsonValueKind.False || (prefixCount > 0 && items.ValueKind == JsonValueKind.Undefined && schema.TryGetProperty("additionalItems", out var extra) && extra.ValueKind == JsonValueKind.False))
        {
            max = Math.Min(max, prefixCount);
        }

        var count = Lean(depth) ? min : (int)_rng.NextInclusive(Math.Max(min, Math.Min(1, max)), Math.Min(max, Math.Max(min, 3)));
        var unique = schema.TryGetProperty("uniqueItems", out var u) && u.ValueKind == JsonValueKind.True;
        var seen = unique ? new HashSet<string>(StringComparer.Ordinal) : null;

        writer.WriteStartArray();
        for (var i = 0; i < count; i++)
        {
            var itemSchema = i < prefixCount ? prefix[i] : items;
            if (seen is null)
            {
                Write(writer, itemSchema, depth + 1);
                continue;
            }

            // uniqueItems: draw again on a repeat; give up on this item after a few tries.
            for (var attempt = 0; attempt < 16; attempt++)
            {
                var item = GenerateNested(itemSchema, depth + 1);
                if (seen.Add(item))
                {
                    writer.WriteRawValue(item, skipInputValidation: true);
                    break;
                }
            }
        }

        writer.WriteEndArray();
    }

    private string GenerateNested(JsonElement schema, int depth)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            Write(writer, schema, depth);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private void WriteInteger(Utf8JsonWriter writer, JsonElement schema)
    {
        var (low, high) = Range(schema, integer: true);
        var lo = (long)Math.Ceiling(low);
        var hi = (long)Math.Floor(high);
        if (Number(schema, "multipleOf") is { } step && step >= 1 && step <= 1e12 && step == Math.Floor(step))
        {
            var m = (long)step;
            var first = (long)Math.Ceiling(lo / (double)m);
            var last = (long)Math.Floor(hi / (double)m);
            writer.WriteNumberValue(_rng.NextInclusive(first, Math.Max(first, last)) * m);
            return;
        }

        writer.WriteNumberValue(_rng.NextInclusive(lo, Math.Max(lo, hi)));
    }

    private void WriteNumber(Utf8JsonWriter writer, JsonElement schema)
    {
        var (low, high) = Range(schema, integer: false);
        if (Number(schema, "multipleOf") is { } step && step >= 1e-6 && step <= 1e12)
        {
            var m = (decimal)step;
            var first = (long)Math.Ceiling((decimal)low / m);
            var last = (long)Math.Floor((decimal)high / m);
            writer.WriteNumberValue(Trim(_rng.NextInclusive(first, Math.Max(first, last)) * m));
            return;
        }

        // Two decimals, inside the range (its midpoint when rounding would leave it).
        var value = Math.Round((decimal)(low + ((high - low) * _rng.NextDouble())), 2);
        if ((double)value < low || (double)value > high)
        {
            value = (decimal)((low + high) / 2);
        }

        writer.WriteNumberValue(Trim(value));
    }

    /// <summary>Drops trailing zeros of the scale (1.50 becomes 1.5, 2.00 becomes 2), as a model would write the number.</summary>
    private static decimal Trim(decimal value) => value / 1.0000000000000000000000000000m;

    /// <summary>The inclusive range a number must fall in, with exclusive bounds moved inwards.</summary>
    private static (double Low, double High) Range(JsonElement schema, bool integer)
    {
        var nudge = integer ? 1 : 0.01;
        double? low = Number(schema, "minimum"), high = Number(schema, "maximum");

        // Draft 4 spells exclusive bounds as booleans beside minimum/maximum; later drafts as numbers.
        if (schema.TryGetProperty("exclusiveMinimum", out var exMin))
        {
            if (exMin.ValueKind == JsonValueKind.True && low is { } l)
            {
                low = integer ? Math.Floor(l) + 1 : l + nudge;
            }
            else if (exMin.ValueKind == JsonValueKind.Number)
            {
                var bound = Finite(exMin);
                var moved = integer ? Math.Floor(bound) + 1 : bound + nudge;
                low = low is { } current ? Math.Max(current, moved) : moved;
            }
        }

        if (schema.TryGetProperty("exclusiveMaximum", out var exMax))
        {
            if (exMax.ValueKind == JsonValueKind.True && high is { } h)
            {
                high = integer ? Math.Ceiling(h) - 1 : h - nudge;
            }
            else if (exMax.ValueKind == JsonValueKind.Number)
            {
                var bound = Finite(exMax);
                var moved = integer ? Math.Ceiling(bound) - 1 : bound - nudge;
                high = high is { } current ? Math.Min(current, moved) : moved;
            }
        }

        const double Limit = 1e12;
        var lo = Math.Clamp(low ?? (high is { } hi0 ? Math.Min(0, hi0 - DefaultRange) : 0), -Limit, Limit);
        var hiValue = Math.Clamp(high ?? (lo + DefaultRange), -Limit, Limit);
        return (lo, Math.Max(lo, hiValue));
    }

    private static double? Number(JsonElement schema, string name)
        => schema.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? Finite(value) : null;

    /// <summary>A number's value clamped to a range every computation here can take (1e400 is not a double).</summary>
    private static double Finite(JsonElement number)
    {
        const double Limit = 1e15;
        return number.TryGetDouble(out var value) && double.IsFinite(value) ? Math.Clamp(value, -Limit, Limit)
            : number.GetRawText().StartsWith('-') ? -Limit : Limit;
    }

    private static long? Bound(JsonElement schema, string name)
        => Number(schema, name) is { } value && value >= 0 ? (long)Math.Min(value, long.MaxValue / 2) : null;

    private void WriteString(Utf8JsonWriter writer, JsonElement schema)
    {
        var format = schema.TryGetProperty("format", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : null;
        var n = _rng.Next(10_000);
        string? formatted = format switch
        {
            "date-time" => new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddMinutes(n * 53).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            "date" => new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddDays(n % 730).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            "time" => TimeSpan.FromSeconds(n * 8 % 86_400).ToString("hh\\:mm\\:ss", CultureInfo.InvariantCulture) + "Z",
            "email" => $"agent{n}@example.com",
            "hostname" => $"host{n}.example.com",
            "ipv4" => $"192.0.2.{n % 255}",
            "uri" or "url" => $"https://example.com/streams/{n}",
            "uuid" => new Guid((int)_rng.NextUInt64(), (short)n, (short)(0x4000 | (n & 0x0fff)), 0x80, 0, 1, 2, 3, 4, 5, 6).ToString(),
            _ => null,
        };

        if (formatted is not null)
        {
            writer.WriteStringValue(formatted);
            return;
        }

        WriteWords(writer, Bound(schema, "minLength"), Bound(schema, "maxLength"));
    }

    /// <summary>One to three words, padded or cut to the length bounds (characters; every one in the BMP).</summary>
    private void WriteWords(Utf8JsonWriter writer, long? minLength, long? maxLength)
    {
        var words = (int)_rng.NextInclusive(1, 3);
        var text = string.Join(' ', Enumerable.Range(0, words).Select(_ => Words[_rng.Next(Words.Length)]));
        var min = (int)Math.Min(minLength ?? 0, 4096);
        if (text.Length < min)
        {
            text = text.PadRight(min, 'x');
        }

        if (maxLength is { } max && text.Length > max)
        {
            text = text[..(int)max];
        }

        writer.WriteStringValue(text);
    }
}
