using System.Text;
using FsCheck;
using FsCheck.Fluent;

namespace Tokenflow.Server.Tests.Operations;

/// <summary>
/// FsCheck generators of malformed and adversarial request parts: JSON values of the wrong type, huge numbers,
/// lone surrogates, deep nesting, duplicate keys, invalid UTF-8, truncation; headers and frames.
/// </summary>
internal static class FuzzInputs
{
    /// <summary>Adversarial JSON values (as JSON text).</summary>
    public static readonly Gen<string> Value = Gen.OneOf(
        Gen.Elements(
            "null", "true", "false", "0", "-1", "1.5", "-0", "1e400", "-1e400", "1e-400", "18446744073709551616", "9223372036854775808",
            "-9223372036854775809", "2147483648", "4294967296", "1000000000000000000000000000000", "0.0000000000000000000001",
            "\"\"", "\"x\"", "\"\\ud800\"", "\"\\udc00x\"", "\"a\\ud83d\"", "\"\\u0000\"", "\"\\uFFFF\"", "\"\u202e\"", "\"sim\"", "\"user\"",
            "[]", "{}", "[null]", "[1,\"a\",null,{}]", "{\"type\":\"text\"}", "[{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}}]",
            "{\"role\":\"user\"}", "[{\"role\":\"tool\"}]", "\"$..a[?(@.b)]\"", "\"(a+)+$\"", "\"[\"", "{\"a\":1,\"a\":2}"),
        Gen.Choose(1, 6).Select(k => Nest((int)Math.Pow(10, k / 1.5) + 1, k % 2 == 0)),
        Gen.Choose(1, 200_000).Select(n => "\"" + new string('a', n) + "\""),
        Gen.Choose(0, 2000).Select(n => new string('9', n + 1)));

    /// <summary>Adversarial header values (strings Kestrel would let through).</summary>
    public static readonly Gen<string> HeaderValue = Gen.OneOf(
        Gen.Elements("", " ", "-1", "0", "1", "01", "+1", "1.0", "1e3", "9223372036854775807", "9223372036854775808", "99999999999999999999999",
            "abc", "0_0", "-", "*", "W/\"x\"", "\"", "2026-13-45T99:99:99Z", "Thu, 01 Jan 1970 00:00:00 GMT", "true", "null", "0000000000000000_0000000000000000"),
        Gen.Choose(0, 64).Select(n => new string('7', n)),
        Gen.Choose(1, 8000).Select(n => new string('x', n)));

    /// <summary>Byte-level damage to a UTF-8 JSON body.</summary>
    public static Gen<byte[]> Damage(byte[] body) => Gen.OneOf(
        Gen.Constant(body),
        Gen.Choose(0, body.Length).Select(i => body[..i]),
        Gen.Zip(Gen.Choose(0, body.Length), Gen.Elements<byte[]>([0xFF], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xC0, 0xAF], [0x80], [0xE2, 0x82], [0x00]))
            .Select(t => (byte[])[.. body[..t.Item1], .. t.Item2, .. body[t.Item1..]]),
        Gen.Constant((byte[])[0xEF, 0xBB, 0xBF, .. body]),
        Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b)),
        Gen.Elements("", " ", "null", "[]", "\"x\"", "{", "}", "{\"a\":}", "{,}", "[{]", "{\"model\":\"sim\"", "NaN", "Infinity").Select(Encoding.UTF8.GetBytes));

    /// <summary>
    /// A JSON object from <paramref name="fields"/> (name → valid value as JSON text) with one to three of them
    /// replaced by adversarial values, dropped, duplicated or joined by unknown fields; then maybe damaged.
    /// </summary>
    public static Gen<byte[]> Object(params (string Name, string Json)[] fields)
    {
        var mutation = Zip3(Gen.Choose(0, fields.Length - 1), Gen.Choose(0, 4), Value);
        return Gen.Zip(Gen.ListOf(mutation, 3).Select(l => l.Take(1 + (l.Count > 0 ? l[0].Item1 % 3 : 0)).ToList()), Gen.Choose(0, 3))
            .SelectMany(t =>
            {
                var list = fields.Select(f => (f.Name, f.Json)).ToList();
                foreach (var (index, kind, value) in t.Item1)
                {
                    var i = Math.Min(index, list.Count - 1);
                    if (i < 0)
                    {
                        break;
                    }

                    switch (kind)
                    {
                        case 0 or 1: list[i] = (list[i].Name, value); break;
                        case 2: list.RemoveAt(i); break;
                        case 3: list.Add((list[i].Name, value)); break;
                        default: list.Add(("x_" + index, value)); break;
                    }
                }

                var json = Encoding.UTF8.GetBytes("{" + string.Join(",", list.Select(f => $"\"{f.Name}\":{f.Json}")) + "}");
                return t.Item2 == 0 ? Damage(json) : Gen.Constant(json);
            });
    }

    /// <summary>Three generators zipped into a tuple.</summary>
    public static Gen<(T1, T2, T3)> Zip3<T1, T2, T3>(Gen<T1> first, Gen<T2> second, Gen<T3> third)
        => Gen.Zip(Gen.Zip(first, second), third, (ab, c) => (ab.Item1, ab.Item2, c));

    private static string Nest(int depth, bool arrays)
        => arrays ? new string('[', depth) + new string(']', depth) : string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth);
}
