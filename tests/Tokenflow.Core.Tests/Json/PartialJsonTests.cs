using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tokenflow.Core.Tests.Json;

public sealed class PartialJsonTests
{
    /// <summary>Documents covering every JSON construct, escapes, raw and escaped multi-byte characters, and odd spacing.</summary>
    public static readonly string[] Corpus =
    [
        """{"title":"Tokenflow","tags":["sse","ws"],"n":-12.5e3,"ok":true,"no":false,"none":null,"nested":{"a":[1,2,{"b":"c"}],"empty":{},"arr":[]}}""",
        """{"escapes":"quote \" backslash \\ slash \/ controls \b\f\n\r\t unicode \u00e9\u4E2D pair \ud83d\ude80 end","\u006bey":"v"}""",
        """{"multi":"naïve café 日本語 🙂🚀 Привет Ελλάδα","key with ü and 🙂":"v🚀","🚀":["日本","語"]}""",
        """[1, 2.5, -3, 4e10, 0, -0.0, 1E-5, 6.02e+23, true, false, null, "s", [], {}, [[[]]], {"a":{}}]""",
        "\"just a string with \\\"escapes\\\", a tab\\t and 🚀\"",
        "12345",
        "-0.5e-7",
        "true",
        "null",
        "  \r\n\t{ \"spaced\" : [ 1 , 2 , \"x\" ] ,\n  \"b\" : { } , \"c\":\"\" }  \n",
        """{"deep":[[[[[[{"x":[1,[2,[3,{"y":[]}]]]}]]]]]],"after":"deep"}""",
        """{"answer":{"steps":[{"n":1,"text":"First, parse."},{"n":2,"text":"Then stream: \"tokens\"."}],"final":"done","score":0.93}}""",
        """{"":"empty key","dup":1,"long":"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua."}""",
    ];

    public static TheoryData<int> Documents()
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < Corpus.Length; i++)
        {
            data.Add(i);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void Every_character_prefix_parses_to_a_growing_prefix_of_the_document(int index)
    {
        var document = Corpus[index];
        var final = JsonNode.Parse(document);
        JsonNode? previous = null;
        for (var length = 0; length <= document.Length; length++)
        {
            var prefix = document.AsSpan(0, length);
            var node = Core.Json.PartialJson.Parse(prefix, out var complete);
            AssertPartial(node, final, $"prefix {length} of document {index} vs the document");
            AssertPartial(previous, node, $"prefix {length - 1} vs prefix {length} of document {index}");
            Assert.False(complete && length < document.TrimEnd().Length && final is JsonObject or JsonArray, $"complete at prefix {length}");
            previous = node;
        }

        var json = new Core.Json.PartialJson();
        json.Append(document);
        json.End();
        Assert.True(json.IsComplete);
        Assert.True(JsonNode.DeepEquals(final, json.Current), $"document {index}: {json.Current?.ToJsonString()}");
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void Every_UTF8_byte_prefix_parses_without_half_characters(int index)
    {
        var document = Corpus[index];
        var final = JsonNode.Parse(document);
        var bytes = Encoding.UTF8.GetBytes(document);
        var json = new Core.Json.PartialJson();
        JsonNode? previous = null;
        for (var i = 0; i < bytes.Length; i++)
        {
            json.Append(bytes.AsSpan(i, 1));
            var node = json.Current;
            Assert.DoesNotContain('\uFFFD', json.Text);
            AssertPartial(node, final, $"byte {i} of document {index}");
            AssertPartial(previous, node, $"byte {i} of document {index} vs the byte before");
            previous = node;
        }

        json.End();
        Assert.True(JsonNode.DeepEquals(final, json.Current));
    }

    [Fact]
    public void A_field_is_readable_before_the_document_ends()
    {
        var json = new Core.Json.PartialJson();
        json.Append("""{"title":"Token""");
        Assert.Equal("Token", (string?)json.Current!["title"]);
        json.Append("""flow","body":"It str""");
        Assert.Equal("Tokenflow", (string?)json.Current!["title"]);
        Assert.Equal("It str", (string?)json.Current!["body"]);
        Assert.False(json.IsComplete);
        json.Append("eams\"}");
        Assert.True(json.IsComplete);
    }

    [Fact]
    public void Invalid_text_never_throws_and_keeps_what_was_valid()
    {
        Assert.Equal("""{"a":1}""", Core.Json.PartialJson.Parse("""{"a":1,"b":tru e}""")!.ToJsonString());
        Assert.Equal("""[1]""", Core.Json.PartialJson.Parse("[1,01]")!.ToJsonString());
        Assert.Equal("""{"s":"x"}""", Core.Json.PartialJson.Parse("""{"s":"x\q"}""")!.ToJsonString());
        Assert.Null(Core.Json.PartialJson.Parse("nope"));
        Assert.Null(Core.Json.PartialJson.Parse(string.Empty));
        // Nesting is cut at 512 levels instead of overflowing the stack.
        Assert.Equal(512, Core.Json.PartialJson.Parse(new string('[', 100_000))!.ToJsonString().Count(c => c == '['));
        Assert.Equal("[[1]]", Core.Json.PartialJson.Parse("[[1]]]]")!.ToJsonString());
    }

    [Fact]
    public async Task ParseAsync_yields_each_changed_value_and_the_final_one()
    {
        var values = new List<string>();
        await foreach (var node in Core.Json.PartialJson.ParseAsync(Deltas("""{"n":""", "4", "2,", "\"k", "ey\":", "\"v", "\"}")))
        {
            values.Add(node!.ToJsonString());
        }

        Assert.Equal(["{}", """{"n":42}""", """{"n":42,"key":"v"}"""], values);

        static async IAsyncEnumerable<string?> Deltas(params string[] parts)
        {
            foreach (var part in parts)
            {
                await Task.Yield();
                yield return part;
            }
        }
    }

    /// <summary>
    /// Asserts <paramref name="partial"/> is a prefix of <paramref name="whole"/>: objects hold a subset of its
    /// members, arrays a prefix of its items, strings a prefix of its string, other values equal it.
    /// </summary>
    private static void AssertPartial(JsonNode? partial, JsonNode? whole, string what)
    {
        if (partial is null)
        {
            return;
        }

        Assert.True(IsPartial(partial, whole), $"{what}: {partial.ToJsonString()} is not a prefix of {whole?.ToJsonString() ?? "null"}");
    }

    private static bool IsPartial(JsonNode? partial, JsonNode? whole)
    {
        switch (partial)
        {
            case null:
                return whole is null;
            case JsonObject obj:
                return whole is JsonObject wholeObj && obj.All(m => wholeObj.TryGetPropertyValue(m.Key, out var w) && IsPartial(m.Value, w));
            case JsonArray array:
                return whole is JsonArray wholeArray && array.Count <= wholeArray.Count && array.Select((item, i) => IsPartial(item, wholeArray[i])).All(ok => ok);
            default:
                if (partial.GetValueKind() == JsonValueKind.String)
                {
                    return whole?.GetValueKind() == JsonValueKind.String && whole.GetValue<string>().StartsWith(partial.GetValue<string>(), StringComparison.Ordinal);
                }

                return JsonNode.DeepEquals(partial, whole);
        }
    }
}
