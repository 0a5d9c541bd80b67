using System.Text.Json;
using System.Text.RegularExpressions;
using Tokenflow.Core.Backends;

namespace Tokenflow.Server.OpenAi;

/// <summary>
/// Reads the agent fields of a chat request — <c>tools</c>, <c>tool_choice</c>,
/// <c>parallel_tool_calls</c>, <c>response_format</c>, messages' <c>tool_calls</c> — into their
/// Core types, or says with an OpenAI 400 which field is wrong and how, as OpenAI does.
/// </summary>
internal static partial class ToolRequestParser
{
    /// <summary>OpenAI's limit on <c>tools</c>.</summary>
    public const int MaxTools = 128;

    /// <summary>The most calls <c>sim_tool_calls</c> may ask for.</summary>
    public const int MaxSimToolCalls = 128;

    /// <summary>Function and schema names: OpenAI's pattern.</summary>
    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();

    public static bool IsValidName(string name) => NamePattern().IsMatch(name);

    public static OpenAiError? ReadTools(JsonElement tools, out List<ToolDefinition>? result)
    {
        result = null;
        if (tools.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return null;
        }

        if (tools.ValueKind != JsonValueKind.Array)
        {
            return OpenAiError.Invalid($"'tools' must be an array of {{\"type\":\"function\",\"function\":{{…}}}} objects (got {Describe(tools)}).", "tools", "invalid_type");
        }

        var count = tools.GetArrayLength();
        if (count == 0)
        {
            return OpenAiError.Invalid("'tools' must not be empty: leave it out when the model may call no function.", "tools", "empty_array");
        }

        if (count > MaxTools)
        {
            return OpenAiError.Invalid($"'tools' may hold at most {MaxTools} functions (got {count}).", "tools", "array_above_max_length");
        }

        result = new List<ToolDefinition>(count);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var i = 0;
        foreach (var tool in tools.EnumerateArray())
        {
            var param = $"tools[{i}]";
            if (tool.ValueKind != JsonValueKind.Object)
            {
                return OpenAiError.Invalid($"'{param}' must be an object {{\"type\":\"function\",\"function\":{{…}}}} (got {Describe(tool)}).", param, "invalid_type");
            }

            if (!tool.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            {
                return OpenAiError.Invalid($"'{param}.type' is required and must be \"function\".", $"{param}.type", "missing_required_parameter");
            }

            if (type.GetString() != "function")
            {
                return OpenAiError.Invalid($"Tool type '{type.GetString()}' is not supported ('{param}.type'): this server calls only tools of type \"function\".", $"{param}.type", "unsupported_value");
            }

            if (!tool.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object)
            {
                return OpenAiError.Invalid($"'{param}.function' is required and must be an object {{\"name\",\"description\",\"parameters\"}}.", $"{param}.function", "missing_required_parameter");
            }

            var error = ReadFunction(function, $"{param}.function", out var definition);
            if (error is not null)
            {
                return error;
            }

            if (!names.Add(definition!.Name))
            {
                return OpenAiError.Invalid($"'{param}.function.name': the function '{definition.Name}' is defined twice in 'tools'.", $"{param}.function.name", "invalid_value");
            }

            result.Add(definition);
            i++;
        }

        return null;
    }

    private static OpenAiError? ReadFunction(JsonElement function, string param, out ToolDefinition? definition)
    {
        definition = null;
        if (!function.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
        {
            return OpenAiError.Invalid($"'{param}.name' is required and must be a string.", $"{param}.name", "missing_required_parameter");
        }

        var nameText = name.GetString()!;
        if (!IsValidName(nameText))
        {
            return OpenAiError.Invalid($"Invalid '{param}.name': '{Shorten(nameText)}' does not match the pattern '^[a-zA-Z0-9_-]{{1,64}}$' (letters, digits, '_' and '-', at most 64).", $"{param}.name", "invalid_value");
        }

        string? description = null;
        if (function.TryGetProperty("description", out var d) && d.ValueKind != JsonValueKind.Null)
        {
            if (d.ValueKind != JsonValueKind.String)
            {
                return OpenAiError.Invalid($"'{param}.description' must be a string.", $"{param}.description", "invalid_type");
            }

            description = d.GetString();
        }

        JsonElement? parameters = null;
        if (function.TryGetProperty("parameters", out var p) && p.ValueKind != JsonValueKind.Null)
        {
            if (p.ValueKind != JsonValueKind.Object)
            {
                return OpenAiError.Invalid($"'{param}.parameters' must be a JSON Schema object (got {Describe(p)}).", $"{param}.parameters", "invalid_type");
            }

            if (p.TryGetProperty("type", out var schemaType) && (schemaType.ValueKind != JsonValueKind.String || schemaType.GetString() != "object"))
            {
                return OpenAiError.Invalid($"Invalid schema for function '{nameText}' ('{param}.parameters'): a function's parameters must be a JSON Schema of type \"object\", got {schemaType.GetRawText()}.", $"{param}.parameters", "invalid_function_parameters");
            }

            parameters = p.Clone();
        }

        var strict = false;
        if (function.TryGetProperty("strict", out var s) && s.ValueKind != JsonValueKind.Null)
        {
            if (s.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                return OpenAiError.Invalid($"'{param}.strict' must be a boolean.", $"{param}.strict", "invalid_type");
            }

            strict = s.GetBoolean();
        }

        definition = new ToolDefinition(nameText, description, parameters, strict);
        return null;
    }

    public static OpenAiError? ReadToolChoice(JsonElement choice, IReadOnlyList<ToolDefinition>? tools, out ToolChoice? result)
    {
        result = null;
        if (choice.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return null;
        }

        if (tools is null)
        {
            return OpenAiError.Invalid("'tool_choice' is only allowed when 'tools' are specified.", "tool_choice", "invalid_value");
        }

        if (choice.ValueKind == JsonValueKind.String)
        {
            result = choice.GetString() switch
            {
                "none" => ToolChoice.None,
                "auto" => ToolChoice.Auto,
                "required" => ToolChoice.Required,
                _ => null,
            };
            return result is null
                ? OpenAiError.Invalid($"'tool_choice' must be \"none\", \"auto\", \"required\" or {{\"type\":\"function\",\"function\":{{\"name\":…}}}} (got '{Shorten(choice.GetString()!)}').", "tool_choice", "invalid_value")
                : null;
        }

        if (choice.ValueKind != JsonValueKind.Object)
        {
            return OpenAiError.Invalid($"'tool_choice' must be a string or an object (got {Describe(choice)}).", "tool_choice", "invalid_type");
        }

        if (!choice.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() != "function")
        {
            return OpenAiError.Invalid("'tool_choice.type' must be \"function\": this server supports naming one function ({\"type\":\"function\",\"function\":{\"name\":…}}).", "tool_choice.type", "invalid_value");
        }

        if (!choice.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object
            || !function.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
        {
            return OpenAiError.Invalid("'tool_choice.function.name' is required: the function the model must call.", "tool_choice.function.name", "missing_required_parameter");
        }

        var named = name.GetString()!;
        if (!tools.Any(t => t.Name == named))
        {
            return OpenAiError.Invalid($"Invalid value for 'tool_choice': no function named '{Shorten(named)}' in 'tools' ({string.Join(", ", tools.Select(t => t.Name))}).", "tool_choice", "invalid_value");
        }

        result = new ToolChoice(ToolChoiceMode.Function, named);
        return null;
    }

    public static OpenAiError? ReadParallelToolCalls(JsonElement value, IReadOnlyList<ToolDefinition>? tools, out bool parallel)
    {
        parallel = true;
        if (value.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            return OpenAiError.Invalid($"'parallel_tool_calls' must be a boolean (got {Describe(value)}).", "parallel_tool_calls", "invalid_type");
        }

        if (tools is null)
        {
            return OpenAiError.Invalid("'parallel_tool_calls' is only allowed when 'tools' are specified.", "parallel_tool_calls", "invalid_value");
        }

        parallel = value.GetBoolean();
        return null;
    }

    public static OpenAiError? ReadResponseFormat(JsonElement format, out ResponseFormat? result)
    {
        result = null;
        if (format.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return null;
        }

        if (format.ValueKind != JsonValueKind.Object)
        {
            return OpenAiError.Invalid($"'response_format' must be an object {{\"type\":\"text\"|\"json_object\"|\"json_schema\"}} (got {Describe(format)}).", "response_format", "invalid_type");
        }

        var type = format.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        switch (type)
        {
            case "text":
                result = new ResponseFormat(ResponseFormatKind.Text);
                return null;
            case "json_object":
                result = new ResponseFormat(ResponseFormatKind.JsonObject);
                return null;
            case "json_schema":
                break;
            case null:
                return OpenAiError.Invalid("'response_format.type' is required: \"text\", \"json_object\" or \"json_schema\".", "response_format.type", "missing_required_parameter");
            default:
                return OpenAiError.Invalid($"'response_format.type' must be \"text\", \"json_object\" or \"json_schema\" (got '{Shorten(type)}').", "response_format.type", "invalid_value");
        }

        if (!format.TryGetProperty("json_schema", out var jsonSchema) || jsonSchema.ValueKind != JsonValueKind.Object)
        {
            return OpenAiError.Invalid("'response_format.json_schema' is required with type \"json_schema\": {\"name\",\"schema\",\"strict\"}.", "response_format.json_schema", "missing_required_parameter");
        }

        if (!jsonSchema.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
        {
            return OpenAiError.Invalid("'response_format.json_schema.name' is required and must be a string.", "response_format.json_schema.name", "missing_required_parameter");
        }

        if (!IsValidName(name.GetString()!))
        {
            return OpenAiError.Invalid($"Invalid 'response_format.json_schema.name': '{Shorten(name.GetString()!)}' does not match the pattern '^[a-zA-Z0-9_-]{{1,64}}$'.", "response_format.json_schema.name", "invalid_value");
        }

        JsonElement? schema = null;
        if (jsonSchema.TryGetProperty("schema", out var s) && s.ValueKind != JsonValueKind.Null)
        {
            if (s.ValueKind != JsonValueKind.Object)
            {
                return OpenAiError.Invalid($"'response_format.json_schema.schema' must be a JSON Schema object (got {Describe(s)}).", "response_format.json_schema.schema", "invalid_type");
            }

            schema = s.Clone();
        }

        var strict = false;
        if (jsonSchema.TryGetProperty("strict", out var st) && st.ValueKind != JsonValueKind.Null)
        {
            if (st.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                return OpenAiError.Invalid("'response_format.json_schema.strict' must be a boolean.", "response_format.json_schema.strict", "invalid_type");
            }

            strict = st.GetBoolean();
        }

        result = new ResponseFormat(ResponseFormatKind.JsonSchema, schema, name.GetString(), strict);
        return null;
    }

    /// <summary>An assistant message's <c>tool_calls</c>.</summary>
    public static OpenAiError? ReadToolCalls(JsonElement calls, string param, out List<ChatToolCall>? result)
    {
        result = null;
        if (calls.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return null;
        }

        if (calls.ValueKind != JsonValueKind.Array)
        {
            return OpenAiError.Invalid($"'{param}' must be an array of {{\"id\",\"type\":\"function\",\"function\":{{\"name\",\"arguments\"}}}} (got {Describe(calls)}).", param, "invalid_type");
        }

        if (calls.GetArrayLength() == 0)
        {
            return OpenAiError.Invalid($"'{param}' must not be empty: leave it out when the message made no call.", param, "empty_array");
        }

        result = [];
        var i = 0;
        foreach (var call in calls.EnumerateArray())
        {
            var at = $"{param}[{i}]";
            if (call.ValueKind != JsonValueKind.Object)
            {
                return OpenAiError.Invalid($"'{at}' must be an object {{\"id\",\"type\":\"function\",\"function\":{{\"name\",\"arguments\"}}}}.", at, "invalid_type");
            }

            if (!call.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String || id.GetString()!.Length == 0)
            {
                return OpenAiError.Invalid($"'{at}.id' is required: the id a tool message answers with its 'tool_call_id'.", $"{at}.id", "missing_required_parameter");
            }

            if (call.TryGetProperty("type", out var type) && (type.ValueKind != JsonValueKind.String || type.GetString() != "function"))
            {
                return OpenAiError.Invalid($"'{at}.type' must be \"function\".", $"{at}.type", "invalid_value");
            }

            if (!call.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object)
            {
                return OpenAiError.Invalid($"'{at}.function' is required: {{\"name\",\"arguments\"}}.", $"{at}.function", "missing_required_parameter");
            }

            if (!function.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || name.GetString()!.Length == 0)
            {
                return OpenAiError.Invalid($"'{at}.function.name' is required and must be a string.", $"{at}.function.name", "missing_required_parameter");
            }

            if (!function.TryGetProperty("arguments", out var arguments) || arguments.ValueKind != JsonValueKind.String)
            {
                return OpenAiError.Invalid($"'{at}.function.arguments' is required: the call's arguments as a JSON string.", $"{at}.function.arguments", "missing_required_parameter");
            }

            result.Add(new ChatToolCall(id.GetString()!, name.GetString()!, arguments.GetString()!));
            i++;
        }

        return null;
    }

    /// <summary>
    /// OpenAI's conversation rule: every call of an assistant message is answered by a following
    /// <c>tool</c> message, and a <c>tool</c> message answers a call of the assistant message before it.
    /// </summary>
    public static OpenAiError? CheckToolTurns(IReadOnlyList<ChatMessage> messages)
    {
        HashSet<string>? calls = null;
        HashSet<string>? unanswered = null;
        var caller = -1;
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            if (message.Role == "tool")
            {
                if (calls is null || !calls.Contains(message.ToolCallId!))
                {
                    return OpenAiError.Invalid($"'messages[{i}]' with role 'tool' must answer a call of the preceding assistant message's 'tool_calls'; no call there has the id '{Shorten(message.ToolCallId!)}'.", $"messages[{i}].tool_call_id", "invalid_value");
                }

                unanswered!.Remove(message.ToolCallId!);
                continue;
            }

            if (unanswered is { Count: > 0 })
            {
                return Unanswered(caller, unanswered);
            }

            calls = unanswered = null;
            if (message.ToolCalls is { } made)
            {
                caller = i;
                calls = [.. made.Select(c => c.Id)];
                unanswered = [.. calls];
            }
        }

        return unanswered is { Count: > 0 } ? Unanswered(caller, unanswered) : null;
    }

    private static OpenAiError Unanswered(int caller, HashSet<string> ids)
        => OpenAiError.Invalid($"An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. These ids of 'messages[{caller}].tool_calls' have no response: {string.Join(", ", ids.Select(Shorten))}.", $"messages[{caller}].tool_calls", "invalid_value");

    /// <summary>A JSON value's kind in words, for error messages.</summary>
    public static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    /// <summary>Client text quoted in an error, cut so a huge value does not make a huge error.</summary>
    public static string Shorten(string text) => text.Length <= 80 ? text : string.Concat(text.AsSpan(0, 77), "...");
}
