using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Tokenflow.LlamaCpp.Grammar;

/// <summary>
/// Builds llama.cpp grammars (GBNF) from JSON Schemas, in the spirit of llama.cpp's
/// <c>common/json-schema-to-grammar.cpp</c>: every string the grammar accepts is compact JSON (no whitespace at
/// all, since small models loop on free whitespace) that validates against the schema. Not thread-safe: one
/// instance builds one grammar.
/// </summary>
/// <remarks>
/// Supported: <c>type</c> (also as an array), object <c>properties</c> (emitted in schema order) with
/// <c>required</c>, <c>additionalProperties</c> (beside declared properties extras are never generated, which every
/// value of the keyword allows; without declared ones it is a map of its values), string <c>minLength</c>/<c>maxLength</c> and <c>format</c> date, time, date-time and uuid,
/// integer <c>minimum</c>/<c>maximum</c>/<c>exclusiveMinimum</c>/<c>exclusiveMaximum</c>, number
/// <c>minimum: 0</c>, <c>enum</c>, <c>const</c>, array <c>items</c>/<c>minItems</c>/<c>maxItems</c>,
/// <c>anyOf</c>/<c>oneOf</c> (as alternatives), <c>$ref</c> to <c>#</c>, <c>#/$defs/…</c> or
/// <c>#/definitions/…</c>. Annotations and unknown keywords are ignored, as JSON Schema does; a validation
/// keyword the grammar cannot express is a <see cref="SchemaNotSupportedException"/>.
/// </remarks>
internal sealed class JsonSchemaGrammar
{
    /// <summary>The rule llama.cpp starts from.</summary>
    public const string RootRule = "root";

    private const int IntegerDigits = 16;

    private static readonly JsonSerializerOptions LiteralJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly Dictionary<string, (string Body, string[] Dependencies)> Primitives = new(StringComparer.Ordinal)
    {
        ["value"] = ("object | array | string | number | boolean | null", ["object", "array", "string", "number", "boolean", "null"]),
        ["object"] = ("\"{\" ( string \":\" value ( \",\" string \":\" value )* )? \"}\"", ["string", "value"]),
        ["array"] = ("\"[\" ( value ( \",\" value )* )? \"]\"", ["value"]),
        ["string"] = ("\"\\\"\" char* \"\\\"\"", ["char"]),
        ["char"] = ("[^\"\\\\\\x7F\\x00-\\x1F] | [\\\\] ( [\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4} )", []),
        ["number"] = ("\"-\"? integral-part ( \".\" decimal-part )? ( [eE] [-+]? integral-part )?", ["integral-part", "decimal-part"]),
        ["nonnegative-number"] = ("integral-part ( \".\" decimal-part )? ( [eE] [-+]? integral-part )?", ["integral-part", "decimal-part"]),
        ["integer"] = ("\"-\"? integral-part", ["integral-part"]),
        ["integral-part"] = ("[0] | [1-9] [0-9]{0,15}", []),
        ["decimal-part"] = ("[0-9]{1,16}", []),
        ["boolean"] = ("\"true\" | \"false\"", []),
        ["null"] = ("\"null\"", []),
        ["uuid"] = ("\"\\\"\" [0-9a-fA-F]{8} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{12} \"\\\"\"", []),
        ["date"] = ("[0-9]{4} \"-\" ( \"0\" [1-9] | \"1\" [0-2] ) \"-\" ( \"0\" [1-9] | [1-2] [0-9] | \"3\" [0-1] )", []),
        ["time"] = ("( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] \":\" [0-5] [0-9] ( \".\" [0-9]{3} )? ( \"Z\" | [+-] ( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] )", []),
        ["date-time"] = ("date \"T\" time", ["date", "time"]),
        ["date-string"] = ("\"\\\"\" date \"\\\"\"", ["date"]),
        ["time-string"] = ("\"\\\"\" time \"\\\"\"", ["time"]),
        ["date-time-string"] = ("\"\\\"\" date-time \"\\\"\"", ["date-time"]),
    };

    // Keywords that constrain values in ways this grammar does not express: refusing them is the honest answer.
    private static readonly HashSet<string> UnsupportedKeywords = new(StringComparer.Ordinal)
    {
        "pattern", "patternProperties", "propertyNames", "minProperties", "maxProperties", "dependentRequired",
        "dependentSchemas", "dependencies", "allOf", "not", "if", "then", "else", "multipleOf", "contains",
        "minContains", "maxContains", "prefixItems", "additionalItems", "unevaluatedProperties", "unevaluatedItems",
        "contentSchema", "$dynamicRef", "$recursiveRef",
    };

    private static readonly HashSet<string> StringFormats = new(StringComparer.Ordinal) { "date", "time", "date-time", "uuid" };

    private readonly List<string> _order = [];
    private readonly Dictionary<string, string> _rules = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _refRules = new(StringComparer.Ordinal);
    private JsonElement _document;
    private string _where = "schema";

    /// <summary>The grammar of one JSON value valid against <paramref name="schema"/>.</summary>
    /// <param name="schema">The JSON Schema.</param>
    /// <param name="where">The request field the schema came from, for error messages (<c>response_format.json_schema</c>).</param>
    /// <exception cref="SchemaNotSupportedException">The schema uses something the grammar cannot express.</exception>
    public static string FromSchema(JsonElement schema, string where)
    {
        var grammar = new JsonSchemaGrammar();
        grammar.AddSchema(schema, string.Empty, where);
        return grammar.Format();
    }

    /// <summary>The grammar of any JSON object (<c>response_format: json_object</c>).</summary>
    public static string AnyObject()
    {
        var grammar = new JsonSchemaGrammar();
        grammar.SetRule(RootRule, grammar.AddPrimitive("object"));
        return grammar.Format();
    }

    /// <summary>
    /// Adds the rules of <paramref name="schema"/> (a document of its own: its <c>$ref</c>s resolve inside it)
    /// under names starting with <paramref name="name"/>; returns the rule of the whole value. Empty name = root.
    /// </summary>
    public string AddSchema(JsonElement schema, string name, string where)
    {
        _document = schema;
        _where = where;
        _refRules.Clear();

        // Reserved before visiting, so that "$ref": "#" inside the schema refers to this rule.
        var rule = name.Length == 0 ? RootRule : UniqueName(name);
        _refRules["#"] = rule;
        SetRule(rule, "\"\"");
        SetRule(rule, Body(schema, name, "#", typeOverride: null));
        return rule;
    }

    /// <summary>Adds (or replaces) a rule by exact name.</summary>
    public void SetRule(string name, string body)
    {
        if (!_rules.ContainsKey(name))
        {
            _order.Add(name);
        }

        _rules[name] = body;
    }

    /// <summary>The grammar text: the root rule first, then the others in the order they were made.</summary>
    public string Format()
    {
        var text = new StringBuilder();
        foreach (var name in _order.OrderBy(n => n == RootRule ? 0 : 1))
        {
            text.Append(name).Append(" ::= ").Append(_rules[name]).Append('\n');
        }

        return text.ToString();
    }

    /// <summary>A GBNF string literal matching exactly <paramref name="text"/>.</summary>
    public static string Literal(string text)
    {
        var escaped = new StringBuilder(text.Length + 2).Append('"');
        foreach (var c in text)
        {
            _ = c switch
            {
                '"' => escaped.Append("\\\""),
                '\\' => escaped.Append("\\\\"),
                '\n' => escaped.Append("\\n"),
                '\r' => escaped.Append("\\r"),
                '\t' => escaped.Append("\\t"),
                < ' ' => escaped.Append("\\x").Append(((int)c).ToString("X2", CultureInfo.InvariantCulture)),
                _ => escaped.Append(c),
            };
        }

        return escaped.Append('"').ToString();
    }

    /// <summary>The grammar literal of a JSON value, serialized compactly (as the model must write it).</summary>
    public static string ConstantLiteral(JsonElement value) => Literal(JsonSerializer.Serialize(value, LiteralJson));

    /// <summary>A string as compact JSON text, escaped as the grammar's literals are.</summary>
    public static string CompactJson(string value) => JsonSerializer.Serialize(value, LiteralJson);

    private string Visit(JsonElement schema, string name, string pointer)
    {
        return AddRule(name.Length == 0 ? "value" : name, Body(schema, name, pointer, typeOverride: null));
    }

    private string Body(JsonElement schema, string name, string pointer, string? typeOverride)
    {
        if (schema.ValueKind == JsonValueKind.True)
        {
            return AddPrimitive("value");
        }

        if (schema.ValueKind == JsonValueKind.False)
        {
            throw Unsupported($"'{_where}' has the schema false at '{pointer}', which no value satisfies.");
        }

        if (schema.ValueKind != JsonValueKind.Object)
        {
            throw Unsupported($"'{_where}' has a {schema.ValueKind.ToString().ToLowerInvariant()} where a schema (an object) belongs, at '{pointer}'.");
        }

        CheckKeywords(schema, pointer);

        if (schema.TryGetProperty("$ref", out var reference))
        {
            return ResolveRef(reference, pointer);
        }

        foreach (var keyword in (string[])["anyOf", "oneOf"])
        {
            if (schema.TryGetProperty(keyword, out var alternatives))
            {
                if (alternatives.ValueKind != JsonValueKind.Array || alternatives.GetArrayLength() == 0)
                {
                    throw Unsupported($"'{_where}' has a '{keyword}' that is not a non-empty array, at '{pointer}'.");
                }

                // oneOf is treated as anyOf: alternatives that overlap may produce a value matching several.
                var rules = alternatives.EnumerateArray()
                    .Select((alternative, i) => Visit(alternative, Join(name, i.ToString(CultureInfo.InvariantCulture)), $"{pointer}/{keyword}/{i}"));
                return string.Join(" | ", rules);
            }
        }

        if (schema.TryGetProperty("const", out var constant))
        {
            return ConstantLiteral(constant);
        }

        if (schema.TryGetProperty("enum", out var values))
        {
            if (values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0)
            {
                throw Unsupported($"'{_where}' has an 'enum' that is not a non-empty array, at '{pointer}'.");
            }

            return "( " + string.Join(" | ", values.EnumerateArray().Select(ConstantLiteral)) + " )";
        }

        var type = typeOverride;
        if (type is null && schema.TryGetProperty("type", out var typeValue))
        {
            if (typeValue.ValueKind == JsonValueKind.Array)
            {
                var types = typeValue.EnumerateArray().Select(t => t.ValueKind == JsonValueKind.String ? t.GetString()! : throw Unsupported($"'{_where}' has a 'type' array with a non-string entry, at '{pointer}'.")).ToArray();
                if (types.Length == 0)
                {
                    throw Unsupported($"'{_where}' has an empty 'type' array at '{pointer}'.");
                }

                return string.Join(" | ", types.Select(t => AddRule(Join(name, t), Body(schema, name, pointer, t))));
            }

            type = typeValue.ValueKind == JsonValueKind.String ? typeValue.GetString() : throw Unsupported($"'{_where}' has a 'type' that is neither a string nor an array, at '{pointer}'.");
        }

        type ??= InferType(schema);
        return type switch
        {
            "object" => ObjectBody(schema, name, pointer),
            "array" => ArrayBody(schema, name, pointer),
            "string" => StringBody(schema, pointer),
            "integer" => IntegerBody(schema, pointer),
            "number" => NumberBody(schema, pointer),
            "boolean" => AddPrimitive("boolean"),
            "null" => AddPrimitive("null"),
            null => AddPrimitive("value"),
            _ => throw Unsupported($"'{_where}' has the unknown type '{type}' at '{pointer}'."),
        };
    }

    private static string? InferType(JsonElement schema)
    {
        if (schema.TryGetProperty("properties", out _) || schema.TryGetProperty("required", out _) || schema.TryGetProperty("additionalProperties", out _))
        {
            return "object";
        }

        if (schema.TryGetProperty("items", out _) || schema.TryGetProperty("minItems", out _) || schema.TryGetProperty("maxItems", out _))
        {
            return "array";
        }

        if (schema.TryGetProperty("minLength", out _) || schema.TryGetProperty("maxLength", out _) || schema.TryGetProperty("format", out _))
        {
            return "string";
        }

        return schema.TryGetProperty("minimum", out _) || schema.TryGetProperty("maximum", out _)
            || schema.TryGetProperty("exclusiveMinimum", out _) || schema.TryGetProperty("exclusiveMaximum", out _)
            ? "number"
            : null;
    }

    private void CheckKeywords(JsonElement schema, string pointer)
    {
        foreach (var property in schema.EnumerateObject())
        {
            var keyword = property.Name;
            var harmless = keyword switch
            {
                "uniqueItems" => property.Value.ValueKind == JsonValueKind.False,
                "allOf" => false,
                _ => !UnsupportedKeywords.Contains(keyword),
            };
            if (!harmless)
            {
                throw UnsupportedKeyword(keyword, pointer);
            }
        }
    }

    private string ResolveRef(JsonElement reference, string pointer)
    {
        var target = reference.ValueKind == JsonValueKind.String ? reference.GetString()! : throw Unsupported($"'{_where}' has a '$ref' that is not a string, at '{pointer}'.");
        if (_refRules.TryGetValue(target, out var existing))
        {
            return existing;
        }

        if (!target.StartsWith('#'))
        {
            throw Unsupported($"'{_where}' has the $ref '{target}' at '{pointer}': only references inside the schema ('#', '#/$defs/…', '#/definitions/…') are supported.");
        }

        var resolved = _document;
        var tokens = target.Length > 1 && target[1] == '/' ? target[2..].Split('/') : null;
        if (tokens is null)
        {
            throw Unsupported($"'{_where}' has the $ref '{target}' at '{pointer}', which is not a JSON pointer.");
        }

        foreach (var raw in tokens)
        {
            var token = Uri.UnescapeDataString(raw).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (resolved.ValueKind == JsonValueKind.Object && resolved.TryGetProperty(token, out var child))
            {
                resolved = child;
            }
            else if (resolved.ValueKind == JsonValueKind.Array && int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < resolved.GetArrayLength())
            {
                resolved = resolved[index];
            }
            else
            {
                throw Unsupported($"'{_where}' has the $ref '{target}' at '{pointer}', which points to nothing in the schema.");
            }
        }

        // Named before it is visited, so that recursive references use the rule being defined.
        var rule = UniqueName("ref-" + Sanitize(tokens[^1]));
        _refRules[target] = rule;
        SetRule(rule, "\"\"");
        SetRule(rule, Body(resolved, rule, target, typeOverride: null));
        return rule;
    }

    private string ObjectBody(JsonElement schema, string name, string pointer)
    {
        var required = new HashSet<string>(StringComparer.Ordinal);
        if (schema.TryGetProperty("required", out var requiredList) && requiredList.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in requiredList.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.String)
                {
                    required.Add(item.GetString()!);
                }
            }
        }

        var requiredRules = new List<string>();
        var optionalRules = new List<(string Name, string Rule)>();
        var declared = new HashSet<string>(StringComparer.Ordinal);
        if (schema.TryGetProperty("properties", out var properties))
        {
            if (properties.ValueKind != JsonValueKind.Object)
            {
                throw Unsupported($"'{_where}' has 'properties' that is not an object, at '{pointer}'.");
            }

            foreach (var property in properties.EnumerateObject())
            {
                declared.Add(property.Name);
                var propertyName = Join(name, Sanitize(property.Name));
                var valueRule = Visit(property.Value, propertyName, $"{pointer}/properties/{property.Name}");
                var kvRule = AddRule(propertyName + "-kv", Literal(CompactJson(property.Name)) + " \":\" " + valueRule);
                if (required.Contains(property.Name))
                {
                    requiredRules.Add(kvRule);
                }
                else
                {
                    optionalRules.Add((property.Name, kvRule));
                }
            }
        }

        if (required.FirstOrDefault(r => !declared.Contains(r)) is { } undeclared)
        {
            // Extra properties are never generated, so a required one the schema does not describe cannot be honoured.
            throw Unsupported($"'{_where}' requires the property '{undeclared}' at '{pointer}' without declaring it in 'properties'.");
        }

        if (declared.Count == 0)
        {
            if (!schema.TryGetProperty("additionalProperties", out var additional) || additional.ValueKind == JsonValueKind.True)
            {
                return AddPrimitive("object");
            }

            if (additional.ValueKind == JsonValueKind.False)
            {
                return "\"{}\"";
            }

            // A map: any keys, every value valid against additionalProperties.
            var value = Visit(additional, Join(name, "additional"), pointer + "/additionalProperties");
            var entry = AddRule(Join(name, "additional-kv"), AddPrimitive("string") + " \":\" " + value);
            return "\"{\" " + Repetition(entry, 0, null, "\",\"") + " \"}\"";
        }

        var body = new StringBuilder("\"{\" ");
        body.AppendJoin(" \",\" ", requiredRules);
        if (optionalRules.Count > 0)
        {
            // Optional properties keep their order; each may be left out: after the first one present, the
            // rest form a chain of optional ", kv" parts (llama.cpp's get_recursive_refs).
            var alternatives = new List<string>();
            for (var i = 0; i < optionalRules.Count; i++)
            {
                alternatives.Add(OptionalChain(optionalRules, i, name));
            }

            var group = string.Join(" | ", alternatives);
            body.Append(requiredRules.Count > 0 ? $" ( \",\" ( {group} ) )?" : $" ( {group} )?");
        }

        return body.Append(" \"}\"").ToString();
    }

    private string OptionalChain(List<(string Name, string Rule)> optional, int start, string name)
    {
        var text = optional[start].Rule;
        if (start + 1 < optional.Count)
        {
            text += " " + AddRule(Join(name, Sanitize(optional[start].Name)) + "-rest", RestChain(optional, start + 1, name));
        }

        return text;
    }

    private string RestChain(List<(string Name, string Rule)> optional, int start, string name)
    {
        var text = $"( \",\" {optional[start].Rule} )?";
        if (start + 1 < optional.Count)
        {
            text += " " + AddRule(Join(name, Sanitize(optional[start].Name)) + "-rest", RestChain(optional, start + 1, name));
        }

        return text;
    }

    private string ArrayBody(JsonElement schema, string name, string pointer)
    {
        var itemRule = schema.TryGetProperty("items", out var items)
            ? items.ValueKind == JsonValueKind.Array
                ? throw UnsupportedKeyword("items (as an array)", pointer)
                : Visit(items, Join(name, "item"), pointer + "/items")
            : AddPrimitive("value");
        var minItems = GetCount(schema, "minItems", pointer) ?? 0;
        var maxItems = GetCount(schema, "maxItems", pointer);
        if (maxItems < minItems)
        {
            throw Unsupported($"'{_where}' has maxItems below minItems at '{pointer}'.");
        }

        return "\"[\" " + Repetition(itemRule, minItems, maxItems, "\",\"") + " \"]\"";
    }

    private string StringBody(JsonElement schema, string pointer)
    {
        if (schema.TryGetProperty("format", out var format))
        {
            var name = format.ValueKind == JsonValueKind.String ? format.GetString()! : string.Empty;
            if (!StringFormats.Contains(name))
            {
                throw Unsupported($"'{_where}' uses unsupported keyword 'format' ('{name}') at '{pointer}': local models constrain output with a grammar that knows date, time, date-time and uuid only.");
            }

            if (schema.TryGetProperty("minLength", out _) || schema.TryGetProperty("maxLength", out _))
            {
                throw Unsupported($"'{_where}' combines 'format' with minLength/maxLength at '{pointer}', which is not supported.");
            }

            return AddPrimitive(name == "uuid" ? "uuid" : name + "-string");
        }

        var minLength = GetCount(schema, "minLength", pointer);
        var maxLength = GetCount(schema, "maxLength", pointer);
        if (minLength is null && maxLength is null)
        {
            return AddPrimitive("string");
        }

        if (maxLength < minLength)
        {
            throw Unsupported($"'{_where}' has maxLength below minLength at '{pointer}'.");
        }

        return "\"\\\"\" " + Repetition(AddPrimitive("char"), minLength ?? 0, maxLength, separator: null) + " \"\\\"\"";
    }

    private string IntegerBody(JsonElement schema, string pointer)
    {
        long? min = null, max = null;
        if (GetBound(schema, "minimum", pointer) is { } minimum)
        {
            min = (long)Math.Ceiling(minimum);
        }

        if (GetBound(schema, "exclusiveMinimum", pointer) is { } exclusiveMinimum)
        {
            var value = (long)Math.Floor(exclusiveMinimum) + 1;
            min = min is { } m ? Math.Max(m, value) : value;
        }

        if (GetBound(schema, "maximum", pointer) is { } maximum)
        {
            max = (long)Math.Floor(maximum);
        }

        if (GetBound(schema, "exclusiveMaximum", pointer) is { } exclusiveMaximum)
        {
            var value = (long)Math.Ceiling(exclusiveMaximum) - 1;
            max = max is { } m ? Math.Min(m, value) : value;
        }

        if (min is null && max is null)
        {
            return AddPrimitive("integer");
        }

        if (min > max)
        {
            throw Unsupported($"'{_where}' has an integer range with no values at '{pointer}'.");
        }

        var range = new StringBuilder("( ");
        IntegerRange.Build(min ?? long.MinValue, max ?? long.MaxValue, range, IntegerDigits, topLevel: true);
        return range.Append(" )").ToString();
    }

    private string NumberBody(JsonElement schema, string pointer)
    {
        foreach (var keyword in (string[])["maximum", "exclusiveMinimum", "exclusiveMaximum"])
        {
            if (schema.TryGetProperty(keyword, out _))
            {
                throw Unsupported($"'{_where}' uses unsupported keyword '{keyword}' on a number at '{pointer}': local models bound numbers only with 'minimum: 0' (use type integer for ranges).");
            }
        }

        if (GetBound(schema, "minimum", pointer) is not { } minimum)
        {
            return AddPrimitive("number");
        }

        return minimum == 0
            ? AddPrimitive("nonnegative-number")
            : throw Unsupported($"'{_where}' uses unsupported keyword 'minimum' ({minimum.ToString(CultureInfo.InvariantCulture)}) on a number at '{pointer}': local models bound numbers only with 'minimum: 0' (use type integer for ranges).");
    }

    private int? GetCount(JsonElement schema, string keyword, string pointer)
    {
        if (!schema.TryGetProperty(keyword, out var value))
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var count) && count >= 0
            ? count
            : throw Unsupported($"'{_where}' has a '{keyword}' that is not a non-negative integer, at '{pointer}'.");
    }

    private double? GetBound(JsonElement schema, string keyword, string pointer)
    {
        if (!schema.TryGetProperty(keyword, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number)
        {
            throw Unsupported($"'{_where}' has a '{keyword}' that is not a number, at '{pointer}'.");
        }

        var bound = value.GetDouble();
        return Math.Abs(bound) < 1e15 ? bound : throw Unsupported($"'{_where}' has a '{keyword}' too large for a grammar (|value| ≥ 1e15), at '{pointer}'.");
    }

    /// <summary>
    /// <paramref name="item"/> repeated between <paramref name="min"/> and <paramref name="max"/> (null = no limit)
    /// times, with <paramref name="separator"/> between items (llama.cpp's build_repetition).
    /// </summary>
    internal static string Repetition(string item, int min, int? max, string? separator)
    {
        if (max == 0)
        {
            return string.Empty;
        }

        if (min == 0 && max == 1)
        {
            return $"{item}?";
        }

        if (separator is null)
        {
            return (min, max) switch
            {
                (1, null) => $"{item}+",
                (0, null) => $"{item}*",
                _ => $"{item}{{{min},{max?.ToString(CultureInfo.InvariantCulture)}}}",
            };
        }

        var result = item + " " + Repetition($"( {separator} {item} )", min == 0 ? 0 : min - 1, max - 1, null);
        return min == 0 ? $"( {result} )?" : result;
    }

    private string AddPrimitive(string name)
    {
        var (body, dependencies) = Primitives[name];
        if (!_rules.ContainsKey(name))
        {
            SetRule(name, body);
            foreach (var dependency in dependencies)
            {
                AddPrimitive(dependency);
            }
        }

        return name;
    }

    /// <summary>Adds a rule under <paramref name="name"/>, or a numbered variant when the name holds another body; returns the name used.</summary>
    private string AddRule(string name, string body)
    {
        name = Sanitize(name);
        if (Primitives.ContainsKey(name) || name == RootRule)
        {
            name += "-";
        }

        if (!_rules.TryGetValue(name, out var existing) || existing == body)
        {
            SetRule(name, body);
            return name;
        }

        for (var i = 0; ; i++)
        {
            var candidate = name + i.ToString(CultureInfo.InvariantCulture);
            if (!_rules.TryGetValue(candidate, out existing) || existing == body)
            {
                SetRule(candidate, body);
                return candidate;
            }
        }
    }

    private string UniqueName(string name)
    {
        name = Sanitize(name);
        if (Primitives.ContainsKey(name) || name == RootRule)
        {
            name += "-";
        }

        if (!_rules.ContainsKey(name))
        {
            return name;
        }

        for (var i = 0; ; i++)
        {
            var candidate = name + i.ToString(CultureInfo.InvariantCulture);
            if (!_rules.ContainsKey(candidate))
            {
                return candidate;
            }
        }
    }

    private static string Join(string name, string part) => name.Length == 0 ? part : name + "-" + part;

    /// <summary>A GBNF rule name: letters, digits and '-' only.</summary>
    internal static string Sanitize(string name)
    {
        var text = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            if (char.IsAsciiLetterOrDigit(c) || c == '-')
            {
                text.Append(c);
            }
            else if (text.Length == 0 || text[^1] != '-')
            {
                text.Append('-');
            }
        }

        var result = text.ToString().Trim('-');
        return result.Length == 0 ? "p" : result;
    }

    private SchemaNotSupportedException UnsupportedKeyword(string keyword, string pointer)
        => new($"'{_where}' uses unsupported keyword '{keyword}' at '{pointer}': local models constrain output with a llama.cpp grammar, which cannot express it.");

    private static SchemaNotSupportedException Unsupported(string message) => new(message);
}
