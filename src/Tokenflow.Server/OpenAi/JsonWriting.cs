using System.Text.Encodings.Web;
using System.Text.Json;

namespace Tokenflow.Server.OpenAi;

/// <summary>Shared <see cref="Utf8JsonWriter"/> settings for responses.</summary>
internal static class JsonWriting
{
    /// <summary>Compact JSON that keeps non-ASCII text as UTF-8 (escaping only what JSON requires).</summary>
    public static readonly JsonWriterOptions Options = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
        SkipValidation = false,
    };

    /// <summary>Like <see cref="Options"/> but for writing lone values between raw fragments.</summary>
    public static readonly JsonWriterOptions Fragment = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
        SkipValidation = true,
    };
}
