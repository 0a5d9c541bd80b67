using System.Text.Json;

namespace Tokenflow.Client;

/// <summary>Reads the OpenAI error object (<c>{"error":{"message","type","param","code"}}</c>) into a <see cref="TokenflowException"/>.</summary>
internal static class ErrorJson
{
    public static TokenflowException Read(ReadOnlySpan<byte> json, int? statusCode, string fallback, string? streamId = null)
    {
        string? message = null, type = null, code = null, param = null;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isError = reader.ValueTextEquals("error"u8);
                    reader.Read();
                    if (isError && reader.TokenType == JsonTokenType.StartObject)
                    {
                        ReadInner(ref reader, ref message, ref type, ref code, ref param);
                    }
                    else if (isError && reader.TokenType == JsonTokenType.String)
                    {
                        message = reader.GetString();
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
            }
        }
        catch (JsonException)
        {
            // Not an error object (a proxy's HTML page, say): keep the fallback message.
        }

        var text = message ?? fallback;
        if (statusCode is { } status)
        {
            text = $"{text} (HTTP {status}{(code is null ? string.Empty : $", {code}")})";
        }

        return new TokenflowException(text) { StatusCode = statusCode, ErrorType = type, Code = code, Param = param, StreamId = streamId };
    }

    /// <summary>Reads the inner error object; the reader is on its start and ends on its end.</summary>
    public static void ReadInner(ref Utf8JsonReader reader, ref string? message, ref string? type, ref string? code, ref string? param)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = reader.ValueTextEquals("message"u8) ? 1 : reader.ValueTextEquals("type"u8) ? 2 : reader.ValueTextEquals("code"u8) ? 3 : reader.ValueTextEquals("param"u8) ? 4 : 0;
            reader.Read();
            if (field == 0 || reader.TokenType is not (JsonTokenType.String or JsonTokenType.Number))
            {
                reader.Skip();
                continue;
            }

            var value = reader.TokenType == JsonTokenType.String ? reader.GetString() : reader.GetDouble().ToString(System.Globalization.CultureInfo.InvariantCulture);
            switch (field)
            {
                case 1: message = value; break;
                case 2: type = value; break;
                case 3: code = value; break;
                default: param = value; break;
            }
        }
    }
}
