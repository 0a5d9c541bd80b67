using System.Text.Json;

namespace Tokenflow.Core.Backends;

/// <summary>A function the model may call (<c>tools[].function</c> of a chat request).</summary>
/// <param name="Name">The function's name.</param>
/// <param name="Description">What it does, for the model; null when not given.</param>
/// <param name="Parameters">The JSON Schema of its arguments (an object schema); null = no parameters.</param>
/// <param name="Strict">OpenAI's <c>strict</c>: arguments must validate against <paramref name="Parameters"/> exactly.</param>
public sealed record ToolDefinition(string Name, string? Description, JsonElement? Parameters, bool Strict = false);
