using System.Text.Json;

namespace Tokenflow.Upstreams.Protocols;

/// <summary>Reads a provider's model list: an array property of objects, each with an id property.</summary>
internal static class ModelList
{
    public static IReadOnlyList<string> Parse(ReadOnlySpan<byte> body, ReadOnlySpan<byte> arrayName, ReadOnlySpan<byte> idName)
    {
        var ids = new List<string>();
        var reader = new Utf8JsonReader(body);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return ids;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (!reader.ValueTextEquals(arrayName))
            {
                reader.Read();
                reader.Skip();
                continue;
            }

            reader.Read();
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                reader.Skip();
                continue;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isId = reader.ValueTextEquals(idName);
                    reader.Read();
                    if (isId && reader.TokenType == JsonTokenType.String && reader.GetString() is { Length: > 0 } id)
                    {
                        ids.Add(id);
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
            }
        }

        return ids;
    }
}
