using System.Text.Json;

namespace Tokenflow.Core.Backends;

/// <summary>The shape the answer text must have (<c>response_format</c>).</summary>
/// <param name="Kind">text, any JSON object, or JSON matching <paramref name="Schema"/>.</param>
/// <param name="Schema">The JSON Schema (<see cref="ResponseFormatKind.JsonSchema"/> only).</param>
/// <param name="Name">The schema's name (<c>json_schema.name</c>), when given.</param>
/// <param name="Strict">OpenAI's <c>strict</c>.</param>
public sealed record ResponseFormat(ResponseFormatKind Kind, JsonElement? Schema = null, string? Name = null, bool Strict = false);

/// <summary>The kinds of <see cref="ResponseFormat"/>.</summary>
public enum ResponseFormatKind
{
    /// <summary>Free text (the default).</summary>
    Text,

    /// <summary>Any valid JSON object.</summary>
    JsonObject,

    /// <summary>JSON valid against a schema.</summary>
    JsonSchema,
}
