using System.Text.Json;
using Tokenflow.LlamaCpp.Grammar;

namespace Tokenflow.LlamaCpp.Tests.Grammar;

public sealed class JsonSchemaGrammarTests(GrammarModelFixture model) : IClassFixture<GrammarModelFixture>
{
    private const string Where = "response_format.json_schema.schema";

    [Fact]
    public void Object_properties_keep_their_order_with_required_ones_and_no_whitespace()
    {
        var grammar = Build("""{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"]}""");

        Assert.Contains("""root ::= "{" name-kv "," age-kv "}" """.TrimEnd(), grammar);
        Assert.Contains("""name-kv ::= "\"name\"" ":" name""", grammar);
        Assert.Contains("name ::= string", grammar);
        Assert.Contains("""age-kv ::= "\"age\"" ":" age""", grammar);
        Assert.Contains("age ::= integer", grammar);
        Assert.DoesNotContain("space", grammar);
        Assert.True(model.Parses(grammar), grammar);
    }

    [Fact]
    public void Optional_properties_may_each_be_left_out()
    {
        var grammar = Build("""{"type":"object","properties":{"a":{"type":"boolean"},"b":{"type":"null"},"c":{"type":"number"}},"required":["a"]}""");

        Assert.Contains("""root ::= "{" a-kv ( "," ( b-kv b-rest | c-kv ) )? "}" """.TrimEnd(), grammar);
        Assert.Contains("""b-rest ::= ( "," c-kv )?""", grammar);
        Assert.True(model.Parses(grammar), grammar);
    }

    [Fact]
    public void Objects_without_properties_are_any_object_or_empty_when_closed()
    {
        var open = Build("""{"type":"object"}""");
        var closed = Build("""{"type":"object","additionalProperties":false}""");

        Assert.Contains("root ::= object", open);
        Assert.Contains("value ::= object | array | string | number | boolean | null", open);
        Assert.Contains("""root ::= "{}" """.TrimEnd(), closed);
        Assert.True(model.Parses(open), open);
        Assert.True(model.Parses(closed), closed);
    }

    [Fact]
    public void An_object_of_additional_properties_only_is_a_map_of_valid_values()
    {
        var grammar = Build("""{"type":"object","additionalProperties":{"type":"integer"}}""");

        Assert.Contains("""root ::= "{" ( additional-kv ( "," additional-kv )* )? "}" """.TrimEnd(), grammar);
        Assert.Contains("""additional-kv ::= string ":" additional""", grammar);
        Assert.Contains("additional ::= integer", grammar);
        Assert.True(model.Parses(grammar), grammar);
    }

    [Fact]
    public void Strings_take_enum_const_length_and_known_formats()
    {
        var grammar = Build("""
            {"type":"object","properties":{
              "color":{"type":"string","enum":["red","green","say \"hi\""]},
              "kind":{"const":"fixed"},
              "code":{"type":"string","minLength":2,"maxLength":4},
              "day":{"type":"string","format":"date"},
              "id":{"type":"string","format":"uuid"}},
             "required":["color","kind","code","day","id"]}
            """);

        Assert.Contains("""color ::= ( "\"red\"" | "\"green\"" | "\"say \\\"hi\\\"\"" )""", grammar);
        Assert.Contains("""kind ::= "\"fixed\"" """.TrimEnd(), grammar);
        Assert.Contains("""code ::= "\"" char{2,4} "\"" """.TrimEnd(), grammar);
        Assert.Contains("day ::= date-string", grammar);
        Assert.Contains("id ::= uuid", grammar);
        Assert.True(model.Parses(grammar), grammar);
    }

    [Fact]
    public void Integer_ranges_are_spelled_digit_by_digit()
    {
        var grammar = Build("""{"type":"integer","minimum":3,"maximum":42}""");

        Assert.Contains("root ::= ( [3-9] | ( [1-3] [0-9] | [4] [0-2] ) )", grammar);
        Assert.True(model.Parses(grammar), grammar);
        foreach (var schema in (string[])[
            """{"type":"integer","minimum":0}""", """{"type":"integer","minimum":-5}""", """{"type":"integer","exclusiveMinimum":17}""",
            """{"type":"integer","maximum":100}""", """{"type":"integer","maximum":-3}""", """{"type":"integer","minimum":-20,"maximum":-10}""",
            """{"type":"integer","minimum":-7,"maximum":1234}""", """{"type":"number","minimum":0}"""])
        {
            var range = Build(schema);
            Assert.True(model.Parses(range), schema + "\n" + range);
        }
    }

    [Fact]
    public void Arrays_repeat_items_between_min_and_max()
    {
        var grammar = Build("""{"type":"array","items":{"type":"boolean"},"minItems":1,"maxItems":3}""");
        var any = Build("""{"type":"array"}""");

        Assert.Contains("""root ::= "[" item ( "," item ){0,2} "]" """.TrimEnd(), grammar);
        Assert.Contains("item ::= boolean", grammar);
        Assert.Contains("""root ::= "[" ( value ( "," value )* )? "]" """.TrimEnd(), any);
        Assert.True(model.Parses(grammar), grammar);
        Assert.True(model.Parses(any), any);
    }

    [Fact]
    public void AnyOf_oneOf_and_type_arrays_become_alternatives()
    {
        var grammar = Build("""
            {"type":"object","properties":{
              "a":{"anyOf":[{"type":"string"},{"type":"integer"}]},
              "b":{"oneOf":[{"type":"boolean"},{"type":"null"}]},
              "c":{"type":["string","null"]}},
             "required":["a","b","c"]}
            """);

        Assert.Contains("a ::= a-0 | a-1", grammar);
        Assert.Contains("b ::= b-0 | b-1", grammar);
        Assert.Contains("c ::= c-string | c-null", grammar);
        Assert.True(model.Parses(grammar), grammar);
    }

    [Fact]
    public void Refs_to_defs_and_definitions_resolve_and_may_recurse()
    {
        var grammar = Build("""
            {"type":"object","properties":{
              "tree":{"$ref":"#/$defs/node"},
              "point":{"$ref":"#/definitions/point"}},
             "required":["tree","point"],
             "$defs":{"node":{"type":"object","properties":{"value":{"type":"integer"},"children":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},"required":["value"]}},
             "definitions":{"point":{"type":"array","items":{"type":"number"},"minItems":2,"maxItems":2}}}
            """);

        Assert.Contains("tree ::= ref-node", grammar);
        Assert.Contains("point ::= ref-point", grammar);
        Assert.Contains("ref-node-children-item ::= ref-node", grammar);
        Assert.True(model.Parses(grammar), grammar);
    }

    [Fact]
    public void Rule_names_never_clash_with_the_built_in_rules()
    {
        var grammar = Build("""{"type":"object","properties":{"string":{"type":"integer"},"value":{"type":"string"},"root":{"type":"boolean"},"a b!":{"type":"null"}},"required":["string","value","root","a b!"]}""");

        Assert.Contains("string- ::= integer", grammar);
        Assert.Contains("value- ::= string", grammar);
        Assert.Contains("root- ::= boolean", grammar);
        Assert.Contains("""a-b-kv ::= "\"a b!\"" ":" a-b""", grammar);
        Assert.Contains("a-b ::= null", grammar);
        Assert.True(model.Parses(grammar), grammar);
    }

    [Fact]
    public void Json_object_grammar_is_any_object()
    {
        var grammar = JsonSchemaGrammar.AnyObject();

        Assert.StartsWith("root ::= object\n", grammar);
        Assert.True(model.Parses(grammar), grammar);
    }

    [Theory]
    [InlineData("""{"type":"string","pattern":"^a+$"}""", "pattern")]
    [InlineData("""{"type":"object","properties":{"n":{"type":"number","multipleOf":3}}}""", "multipleOf")]
    [InlineData("""{"allOf":[{"type":"string"}]}""", "allOf")]
    [InlineData("""{"type":"array","items":{"type":"string"},"uniqueItems":true}""", "uniqueItems")]
    [InlineData("""{"type":"object","minProperties":1}""", "minProperties")]
    [InlineData("""{"not":{"type":"string"}}""", "not")]
    [InlineData("""{"type":"string","format":"email"}""", "format")]
    [InlineData("""{"type":"number","maximum":3}""", "maximum")]
    public void Unsupported_keywords_are_named_in_the_error(string schema, string keyword)
    {
        var error = Assert.Throws<SchemaNotSupportedException>(() => Build(schema));

        Assert.Contains($"'{Where}' uses unsupported keyword '{keyword}'", error.Message);
    }

    [Theory]
    [InlineData("""{"$ref":"https://example.com/schema.json"}""", "only references inside the schema")]
    [InlineData("""{"$ref":"#/$defs/missing"}""", "points to nothing")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"string"}},"required":["b"]}""", "requires the property 'b'")]
    [InlineData("""{"type":"widget"}""", "unknown type 'widget'")]
    [InlineData("""{"type":"object","properties":{"a":false}}""", "the schema false")]
    public void Schemas_the_grammar_cannot_honour_are_refused_with_a_reason(string schema, string reason)
    {
        var error = Assert.Throws<SchemaNotSupportedException>(() => Build(schema));

        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void Annotations_and_unknown_keywords_are_ignored()
    {
        var grammar = Build("""{"$schema":"https://json-schema.org/draft/2020-12/schema","title":"T","description":"d","x-extra":1,"type":"object","properties":{"a":{"type":"string","description":"the a","default":"x","examples":["y"]}},"required":["a"],"additionalProperties":false}""");

        Assert.Contains("""root ::= "{" a-kv "}" """.TrimEnd(), grammar);
        Assert.True(model.Parses(grammar), grammar);
    }

    [Fact]
    public void A_ref_cycle_that_consumes_nothing_is_rejected_by_llama_cpp_not_crashing_it()
    {
        var grammar = Build("""{"anyOf":[{"$ref":"#"},{"type":"null"}]}""");

        Assert.False(model.Parses(grammar), grammar);
    }

    [Fact]
    public void Repetition_follows_llama_cpp()
    {
        Assert.Equal("x?", JsonSchemaGrammar.Repetition("x", 0, 1, null));
        Assert.Equal("x*", JsonSchemaGrammar.Repetition("x", 0, null, null));
        Assert.Equal("x+", JsonSchemaGrammar.Repetition("x", 1, null, null));
        Assert.Equal("x{2,5}", JsonSchemaGrammar.Repetition("x", 2, 5, null));
        Assert.Equal("""( x ( "," x )* )?""", JsonSchemaGrammar.Repetition("x", 0, null, "\",\""));
        Assert.Equal("""x ( "," x )+""", JsonSchemaGrammar.Repetition("x", 2, null, "\",\""));
        Assert.Equal("""x ( "," x ){2,}""", JsonSchemaGrammar.Repetition("x", 3, null, "\",\""));
        Assert.Equal(string.Empty, JsonSchemaGrammar.Repetition("x", 0, 0, "\",\""));
    }

    private static string Build(string schema)
    {
        using var document = JsonDocument.Parse(schema);
        return JsonSchemaGrammar.FromSchema(document.RootElement.Clone(), Where);
    }
}
