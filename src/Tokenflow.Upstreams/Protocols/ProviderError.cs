using System.Text.Json;

namespace Tokenflow.Upstreams.Protocols;

/// <summary>
/// An error body in any of the three providers' shapes: OpenAI <c>{"error":{"message","type","code"}}</c>,
/// Anthropic <c>{"type":"error","error":{"type","message"}}</c>, Ollama <c>{"error":"…"}</c>.
/// </summary>
internal readonly record struct ProviderError(string? Message, string? Type, string? Code, int? Status = null)
{
    /// <summary>Reads an error body; fields it cannot find stay null (a non-JSON body gives its text as the message).</summary>
    public static ProviderError Parse(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
        {
            return default;
        }

        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return new ProviderError(Text(body), null, null);
            }

            ProviderError found = default;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("error"u8))
                {
                    reader.Read();
                    found = ReadError(ref reader);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            return found;
        }
        catch (JsonException)
        {
            return new ProviderError(Text(body), null, null);
        }
    }

    /// <summary>Reads the value of an <c>error</c> property (a string or an object), the reader on its first token.</summary>
    public static ProviderError ReadError(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            return new ProviderError(reader.GetString(), null, null);
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return default;
        }

        string? message = null, type = null, code = null;
        int? status = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("message"u8))
            {
                reader.Read();
                message = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                type = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (reader.ValueTextEquals("code"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    code = reader.GetString();
                }
                else if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var number) && number is >= 400 and < 600)
                {
                    status = number;
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return new ProviderError(message, type, code, status);
    }

    private static string Text(ReadOnlySpan<byte> body)
    {
        var text = System.Text.Encoding.UTF8.GetString(body[..Math.Min(body.Length, 512)]).Trim();
        return text.Length == 0 ? "(empty body)" : text;
    }
}
