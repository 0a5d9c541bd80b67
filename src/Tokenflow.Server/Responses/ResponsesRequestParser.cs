using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Generation;
using Tokenflow.Server.Hosting;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Responses;

/// <summary>
/// Reads a <c>POST /v1/responses</c> body (OpenAI Responses API): <c>input</c> as a string or items (messages
/// with <c>input_text</c>/<c>output_text</c> parts, <c>function_call</c>, <c>function_call_output</c>),
/// <c>instructions</c>, <c>max_output_tokens</c>, <c>temperature</c>, <c>top_p</c>, <c>stream</c>,
/// <c>background</c>, <c>store</c>, <c>previous_response_id</c>, function <c>tools</c>, <c>tool_choice</c>,
/// <c>text.format</c>, and Tokenflow's <c>seed</c>. Anything a backend here cannot honour (image or file inputs,
/// built-in tools, <c>conversation</c> objects) is a 400 naming the field.
/// </summary>
internal sealed class ResponsesRequestParser(ModelCatalog catalog, IOptions<TokenflowOptions> options)
{
    private readonly TokenflowOptions _options = options.Value;

    public OpenAiError? Parse(JsonElement root, string? owner, out ResponsesRequest? result)
    {
        result = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return OpenAiError.Invalid("The request body must be a JSON object.", null, "invalid_json");
        }

        if (!root.TryGetString("model", out var model) || string.IsNullOrWhiteSpace(model))
        {
            return OpenAiError.Invalid("'model' is required.", "model", "missing_required_parameter");
        }

        foreach (var unsupported in new[] { "conversation", "prompt" })
        {
            if (root.TryGetProperty(unsupported, out var value) && value.ValueKind != JsonValueKind.Null)
            {
                return OpenAiError.Invalid($"'{unsupported}' is not supported by this server: send the conversation as 'input', or continue a response with 'previous_response_id'.", unsupported, "unsupported_parameter");
            }
        }

        string? previous = null;
        if (root.TryGetProperty("previous_response_id", out var previousValue) && previousValue.ValueKind != JsonValueKind.Null)
        {
            if (previousValue.ValueKind != JsonValueKind.String || previousValue.GetString() is not { Length: > 0 } previousId)
            {
                return OpenAiError.Invalid("'previous_response_id' must be a response id.", "previous_response_id", "invalid_type");
            }

            previous = previousId;
        }

        var store = true;
        if (root.TryGetProperty("store", out var storeValue) && storeValue.ValueKind != JsonValueKind.Null)
        {
            if (storeValue.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                return OpenAiError.Invalid("'store' must be a boolean.", "store", "invalid_type");
            }

            store = storeValue.ValueKind == JsonValueKind.True;
        }

        var messages = new List<ChatMessage>();
        if (root.TryGetString("instructions", out var instructions) && instructions!.Length > 0)
        {
            messages.Add(new ChatMessage("system", instructions));
        }

        var toolsError = ReadTools(root, out var tools, out var toolChoice);
        var formatError = ReadFormat(root, out var format);
        var error = ReadInput(root, messages) ?? toolsError ?? formatError;
        if (error is not null)
        {
            return error;
        }

        if (!root.TryGetOptionalInt64("max_output_tokens", 1, _options.MaxTokensLimit, out var max))
        {
            return OpenAiError.Invalid($"'max_output_tokens' must be an integer between 1 and {_options.MaxTokensLimit}.", "max_output_tokens", "invalid_value");
        }

        if (!root.TryGetOptionalSingle("temperature", 0, 2, minExclusive: false, out var temperature))
        {
            return OpenAiError.Invalid("'temperature' must be a number between 0 and 2.", "temperature", "invalid_value");
        }

        if (!root.TryGetOptionalSingle("top_p", 0, 1, minExclusive: true, out var topP))
        {
            return OpenAiError.Invalid("'top_p' must be a number greater than 0 and at most 1.", "top_p", "invalid_value");
        }

        if (!catalog.TryGet(model!, out var entry))
        {
            return OpenAiError.ModelNotFound(model!);
        }

        if (!root.TryGetOptionalInt64("seed", long.MinValue, long.MaxValue, out var seed))
        {
            return OpenAiError.Invalid("'seed' must be an integer.", "seed", "invalid_value");
        }

        var background = root.TryGetProperty("background", out var bg) && bg.ValueKind == JsonValueKind.True;
        if (background && !store)
        {
            return OpenAiError.Invalid("'background' responses are stored: 'store' must be true (or left out) with 'background': true.", "store", "invalid_value");
        }

        var stream = root.TryGetProperty("stream", out var st) && st.ValueKind == JsonValueKind.True;
        var pacing = root.SimPacing();
        var backend = new BackendRequest
        {
            Model = entry.Id,
            Messages = messages,
            MaxTokens = max is { } maxTokens ? (int)maxTokens : entry.Id == Tokenflow.Core.Sim.SimBackend.ModelId ? 64 : _options.DefaultMaxTokens,
            Temperature = temperature,
            TopP = topP,
            Seed = seed,
            Tools = tools,
            ToolChoice = toolChoice,
            ResponseFormat = format,
            SimTokensPerSecond = pacing.TokensPerSecond,
            SimTtftMs = pacing.TtftMs,
        };
        var generation = new GenerationOptions
        {
            IdPrefix = "resp_",
            MaxTokens = backend.MaxTokens,
            Background = background,
            Owner = owner,
            Metadata = ResponsesRequest.Metadata,

            // store: false keeps no conversation and lets the log release what its readers have passed.
            Retention = store ? null : Tokenflow.Core.Streams.StreamRetention.None,
        };
        result = new ResponsesRequest(entry, backend, generation, stream)
        {
            Messages = messages,
            InputStart = instructions is { Length: > 0 } ? 1 : 0,
            PreviousResponseId = previous,
            Store = store,
        };
        return null;
    }

    private static OpenAiError? ReadInput(JsonElement root, List<ChatMessage> messages)
    {
        if (!root.TryGetProperty("input", out var input) || input.ValueKind == JsonValueKind.Null)
        {
            return OpenAiError.Invalid("'input' is required.", "input", "missing_required_parameter");
        }

        if (input.ValueKind == JsonValueKind.String)
        {
            messages.Add(new ChatMessage("user", input.GetString()!));
            return null;
        }

        if (input.ValueKind != JsonValueKind.Array || input.GetArrayLength() == 0)
        {
            return OpenAiError.Invalid("'input' must be a string or a non-empty array of items.", "input", "invalid_type");
        }

        var i = 0;
        foreach (var item in input.EnumerateArray())
        {
            var param = $"input[{i++}]";
            item.TryGetString("type", out var type);
            switch (type)
            {
                case "function_call" when item.TryGetString("call_id", out var callId) && item.TryGetString("name", out var name):
                    item.TryGetString("arguments", out var arguments);
                    messages.Add(new ChatMessage("assistant", string.Empty) { ToolCalls = [new ChatToolCall(callId!, name!, arguments ?? "{}")] });
                    continue;
                case "function_call_output" when item.TryGetString("call_id", out var outputId):
                    item.TryGetString("output", out var output);
                    messages.Add(new ChatMessage("tool", output ?? string.Empty) { ToolCallId = outputId });
                    continue;
                case null or "message":
                    break;
                default:
                    return OpenAiError.Invalid($"'{param}.type' '{type}' is not supported by this server (message, function_call and function_call_output are).", $"{param}.type", "unsupported_input");
            }

            if (!item.TryGetString("role", out var role) || role is not ("user" or "assistant" or "system" or "developer"))
            {
                return OpenAiError.Invalid($"'{param}.role' must be user, assistant, system or developer.", $"{param}.role", "invalid_value");
            }

            if (!item.TryGetProperty("content", out var content))
            {
                return OpenAiError.Invalid($"'{param}.content' is required.", $"{param}.content", "missing_required_parameter");
            }

            if (content.ValueKind == JsonValueKind.String)
            {
                messages.Add(new ChatMessage(role!, content.GetString()!));
                continue;
            }

            if (content.ValueKind != JsonValueKind.Array)
            {
                return OpenAiError.Invalid($"'{param}.content' must be a string or an array of parts.", $"{param}.content", "invalid_type");
            }

            var text = new StringBuilder();
            var j = 0;
            foreach (var part in content.EnumerateArray())
            {
                part.TryGetString("type", out var partType);
                if (partType is not ("input_text" or "output_text" or "text") || !part.TryGetString("text", out var partText))
                {
                    return OpenAiError.Invalid($"'{param}.content[{j}].type' '{partType}' is not supported by model inputs here (input_text is).", $"{param}.content[{j}].type", "unsupported_content");
                }

                text.Append(partText);
                j++;
            }

            messages.Add(new ChatMessage(role!, text.ToString()));
        }

        return null;
    }

    private static OpenAiError? ReadTools(JsonElement root, out List<ToolDefinition>? tools, out ToolChoice? choice)
    {
        tools = null;
        choice = null;
        if (root.TryGetProperty("tools", out var list) && list.ValueKind != JsonValueKind.Null)
        {
            if (list.ValueKind != JsonValueKind.Array)
            {
                return OpenAiError.Invalid("'tools' must be an array.", "tools", "invalid_type");
            }

            tools = [];
            var i = 0;
            foreach (var tool in list.EnumerateArray())
            {
                var param = $"tools[{i++}]";
                if (!tool.TryGetString("type", out var type) || type != "function")
                {
                    return OpenAiError.Invalid($"'{param}.type' must be \"function\": built-in tools ('{type}') are not supported by this server.", $"{param}.type", "unsupported_tool");
                }

                if (!tool.TryGetString("name", out var name) || name!.Length == 0)
                {
                    return OpenAiError.Invalid($"'{param}.name' is required.", $"{param}.name", "missing_required_parameter");
                }

                tool.TryGetString("description", out var description);
                JsonElement? parameters = tool.TryGetProperty("parameters", out var ps) && ps.ValueKind == JsonValueKind.Object ? ps.Clone() : null;
                var strict = tool.TryGetProperty("strict", out var strictValue) && strictValue.ValueKind == JsonValueKind.True;
                tools.Add(new ToolDefinition(name, description, parameters, strict));
            }
        }

        if (root.TryGetProperty("tool_choice", out var toolChoice) && toolChoice.ValueKind != JsonValueKind.Null)
        {
            choice = toolChoice.ValueKind == JsonValueKind.String
                ? toolChoice.GetString() switch { "auto" => ToolChoice.Auto, "none" => ToolChoice.None, "required" => ToolChoice.Required, _ => null }
                : toolChoice.TryGetString("type", out var type) && type == "function" && toolChoice.TryGetString("name", out var name) && tools?.Exists(t => t.Name == name) == true
                    ? new ToolChoice(ToolChoiceMode.Function, name)
                    : null;
            if (choice is null || (choice.Mode != ToolChoiceMode.None && (tools is null || tools.Count == 0)))
            {
                return OpenAiError.Invalid("'tool_choice' must be \"auto\", \"none\", \"required\" or {\"type\":\"function\",\"name\":<one of tools>}, with tools.", "tool_choice", "invalid_value");
            }
        }

        return null;
    }

    private static OpenAiError? ReadFormat(JsonElement root, out ResponseFormat? format)
    {
        format = null;
        if (!root.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.Object || !text.TryGetProperty("format", out var f) || f.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        f.TryGetString("type", out var type);
        switch (type)
        {
            case "text":
                return null;
            case "json_object":
                format = new ResponseFormat(ResponseFormatKind.JsonObject);
                return null;
            case "json_schema" when f.TryGetProperty("schema", out var schema) && schema.ValueKind == JsonValueKind.Object:
                f.TryGetString("name", out var name);
                format = new ResponseFormat(ResponseFormatKind.JsonSchema, schema.Clone(), name, f.TryGetProperty("strict", out var strict) && strict.ValueKind == JsonValueKind.True);
                return null;
            default:
                return OpenAiError.Invalid("'text.format' must be {\"type\":\"text\"}, {\"type\":\"json_object\"} or {\"type\":\"json_schema\",\"name\",\"schema\"}.", "text.format", "invalid_value");
        }
    }
}
