namespace Tokenflow.Core.Tests.Sim;

/// <summary>JSON Schemas of the shapes agents give functions, for the simulator's generator to satisfy.</summary>
internal static class SimSchemas
{
    public const string Weather = """
        {"type":"object","properties":{
          "city":{"type":"string","description":"City name"},
          "unit":{"type":"string","enum":["celsius","fahrenheit"]},
          "days":{"type":"integer","minimum":1,"maximum":14}},
         "required":["city"]}
        """;

    public const string Order = """
        {"type":"object","additionalProperties":false,"properties":{
          "lines":{"type":"array","minItems":1,"maxItems":3,"items":{"type":"object","additionalProperties":false,
            "properties":{"sku":{"type":"string","minLength":3,"maxLength":8},"qty":{"type":"integer","minimum":1},
                          "price":{"type":"number","exclusiveMinimum":0,"maximum":1000}},
            "required":["sku","qty","price"]}},
          "tags":{"type":"array","items":{"type":"string","enum":["a","b","c","d"]},"uniqueItems":true,"minItems":1,"maxItems":4},
          "paid":{"type":"boolean"},
          "note":{"type":["string","null"],"maxLength":5}},
         "required":["lines","tags","paid","note"]}
        """;

    public const string Refs = """
        {"type":"object","$defs":{"point":{"type":"object","properties":{"x":{"type":"number","minimum":-1,"maximum":1},"y":{"type":"number"}},"required":["x","y"],"additionalProperties":false}},
         "properties":{"from":{"$ref":"#/$defs/point"},"to":{"$ref":"#/$defs/point"},"path":{"type":"array","items":{"$ref":"#/$defs/point"}}},
         "required":["from","to"]}
        """;

    public const string Combinators = """
        {"type":"object","properties":{
          "kind":{"const":"move"},
          "target":{"oneOf":[{"type":"string","format":"email"},{"type":"integer","multipleOf":5,"minimum":10,"maximum":100}]},
          "when":{"type":"string","format":"date-time"},
          "day":{"type":"string","format":"date"},
          "id":{"type":"string","format":"uuid"},
          "site":{"type":"string","format":"uri"},
          "either":{"anyOf":[{"type":"boolean"},{"type":"null"},{"type":"number","exclusiveMaximum":0}]},
          "both":{"allOf":[{"type":"object","properties":{"a":{"type":"boolean"}},"required":["a"]},{"properties":{"b":{"type":"null"}},"required":["b"]}]}},
         "required":["kind","target","when","day","id","site","either","both"]}
        """;

    public const string Strict = """
        {"type":"object","additionalProperties":false,"properties":{
          "level":{"type":"integer","enum":[1,2,3]},
          "ratio":{"type":"number","multipleOf":0.25,"minimum":0,"maximum":2},
          "labels":{"type":"array","items":{"type":"string","minLength":12}},
          "pair":{"type":"array","prefixItems":[{"type":"string"},{"type":"integer","exclusiveMinimum":5,"exclusiveMaximum":7}],"items":false,"minItems":2}},
         "required":["level","ratio","labels","pair"]}
        """;

    public const string Tree = """
        {"type":"object","properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#"}}},"required":["name"]}
        """;

    public const string FreeObject = """{"type":"object"}""";

    public const string Counts = """{"type":"object","additionalProperties":{"type":"integer","minimum":0,"maximum":9},"minProperties":2}""";

    public const string NoType = """{"properties":{"q":{},"n":{"maximum":-5}},"required":["q","n"]}""";

    public const string Empty = """{"type":"object","properties":{}}""";

    public static readonly string[] All = [Weather, Order, Refs, Combinators, Strict, Tree, FreeObject, Counts, NoType, Empty];
}
