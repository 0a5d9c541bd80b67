using System.Text.Json;
using Tokenflow.Core.Watches;

namespace Tokenflow.Server.OpenAi;

/// <summary>
/// Reads a request's <c>watch</c> array and <c>cancel_on</c> (DESIGN.md "Watches"), and the body of
/// <c>POST /v1/streams/{id}/watches</c>: <c>{"id","regex"}</c> or <c>{"id","json_path","when":"complete"}</c>.
/// Every mistake is a 400 naming the field.
/// </summary>
internal static class WatchRequestParser
{
    /// <summary>Most watches one stream may carry.</summary>
    public const int MaxWatches = 16;

    public static OpenAiError? Parse(JsonElement watch, string? cancelOn, out List<WatchSpec>? watches)
    {
        watches = null;
        if (watch.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return cancelOn is null ? null : OpenAiError.Invalid($"'cancel_on' names watch '{cancelOn}', but the request has no 'watch'.", "cancel_on", "invalid_value");
        }

        if (watch.ValueKind != JsonValueKind.Array)
        {
            return OpenAiError.Invalid("'watch' must be an array of watches.", "watch", "invalid_type");
        }

        if (watch.GetArrayLength() > MaxWatches)
        {
            return OpenAiError.Invalid($"'watch' may hold at most {MaxWatches} watches (got {watch.GetArrayLength()}).", "watch", "invalid_value");
        }

        watches = [];
        var index = 0;
        foreach (var item in watch.EnumerateArray())
        {
            var error = ParseOne(item, $"watch[{index++}]", out var spec);
            if (error is not null)
            {
                return error;
            }

            if (watches.Exists(w => w.Id == spec!.Id))
            {
                return OpenAiError.Invalid($"Two watches have the id '{spec!.Id}'.", $"watch[{index - 1}].id", "invalid_value");
            }

            watches.Add(spec!);
        }

        if (cancelOn is not null && !watches.Exists(w => w.Id == cancelOn))
        {
            return OpenAiError.Invalid($"'cancel_on' must be the id of one of the request's watches (got '{cancelOn}').", "cancel_on", "invalid_value");
        }

        return null;
    }

    /// <summary>Reads one watch object; <paramref name="param"/> names it in errors.</summary>
    public static OpenAiError? ParseOne(JsonElement item, string param, out WatchSpec? spec)
    {
        spec = null;
        if (item.ValueKind != JsonValueKind.Object)
        {
            return OpenAiError.Invalid($"'{param}' must be an object.", param, "invalid_type");
        }

        string? id = null, regex = null, path = null, when = null;
        foreach (var property in item.EnumerateObject())
        {
            var value = property.Value;
            switch (property.Name)
            {
                case "id" when value.ValueKind == JsonValueKind.String:
                    id = value.GetString();
                    break;
                case "regex" when value.ValueKind == JsonValueKind.String:
                    regex = value.GetString();
                    break;
                case "json_path" when value.ValueKind == JsonValueKind.String:
                    path = value.GetString();
                    break;
                case "when" when value.ValueKind == JsonValueKind.String:
                    when = value.GetString();
                    break;
                case "id" or "regex" or "json_path" or "when":
                    return OpenAiError.Invalid($"'{param}.{property.Name}' must be a string.", $"{param}.{property.Name}", "invalid_type");
                default:
                    return OpenAiError.Invalid($"'{param}' has an unknown field '{property.Name}' (a watch has id, regex or json_path, and when).", $"{param}.{property.Name}", "unknown_parameter");
            }
        }

        if (string.IsNullOrEmpty(id) || id.Length > 64)
        {
            return OpenAiError.Invalid($"'{param}.id' is required: a string of 1 to 64 characters.", $"{param}.id", "missing_required_parameter");
        }

        if ((regex is null) == (path is null))
        {
            return OpenAiError.Invalid($"'{param}' must have exactly one of 'regex' and 'json_path'.", param, "invalid_value");
        }

        if (when is not null && (path is null || when != "complete"))
        {
            return OpenAiError.Invalid($"'{param}.when' can only be \"complete\", on a json_path watch.", $"{param}.when", "invalid_value");
        }

        string? reason;
        var created = regex is not null
            ? WatchSpec.TryCreateRegex(id, regex, out spec, out reason)
            : WatchSpec.TryCreateJsonPath(id, path!, out spec, out reason);
        return created ? null : OpenAiError.Invalid($"'{param}.{(regex is not null ? "regex" : "json_path")}' is invalid: {reason}", $"{param}.{(regex is not null ? "regex" : "json_path")}", "invalid_value");
    }
}
