using System.Text.Json;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Hosting;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Anthropic;

/// <summary>
/// Reads a <c>POST /v1/messages</c> body (Anthropic Messages API) into the generation it asks for: <c>system</c>,
/// <c>messages</c> with text, <c>tool_use</c>, <c>tool_result</c> and <c>thinking</c> blocks, <c>tools</c>
/// (<c>input_schema</c>), <c>tool_choice</c> (auto, any, tool, none), <c>max_tokens</c> (required, as Anthropic),
/// <c>stop_sequences</c>, <c>temperature</c>, <c>top_p</c>, <c>stream</c>, plus Tokenflow's <c>background</c>,
/// <c>resume_grace_ms</c> and <c>seed</c>. What a backend here cannot honour (image or document blocks) is a
/// 400 naming the field, never dropped.
/// </summary>
internal sealed class MessagesRequestParser(ModelCatalog catalog, IOptions<TokenflowOptions> options)
{
    private readonly TokenflowOptions _options = options.Value;

    public OpenAiError? Parse(JsonElement root, string? owner, out MessagesRequest? result)
    {
        result = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return OpenAiError.Invalid("The request body must be a JSON object.", null, "invalid_json");
        }

        if (!root.TryGetString("model", out var model) || string.IsNullOrWhiteSpace(model))
        {
            return OpenAiError.Invalid("model: Field required", "model", "missing_required_parameter");
        }

        if (!root.TryGetProperty("max_tokens", out var max) || max.ValueKind != JsonValueKind.Number || !max.TryGetInt32(out var maxTokens))
        {
            return OpenAiError.Invalid("max_tokens: Field required (an integer)", "max_tokens", "missing_required_parameter");
        }

        if (maxTokens < 1 || maxTokens > _options.MaxTokensLimit)
        {
            return OpenAiError.Invalid($"max_tokens: must be between 1 and {_options.MaxTokensLimit} (got {maxTokens}).", "max_tokens", "invalid_value");
        }

        var messages = new List<ChatMessage>();
        var toolsError = ReadTools(root, out var tools, out var toolChoice);
        var temperatureError = ReadNumber(root, "temperature", 0, 1, out var temperature);
        var topPError = ReadNumber(root, "top_p", 0, 1, out var topP);
        var error = ReadSystem(root, messages) ?? ReadMessages(root, messages) ?? toolsError ?? temperatureError ?? topPError;
        if (error is not null)
        {
            return error;
        }

        List<string>? stops = null;
        if (root.TryGetProperty("stop_sequences", out var stopSequences) && stopSequences.ValueKind != JsonValueKind.Null)
        {
            if (stopSequences.ValueKind != JsonValueKind.Array || stopSequences.EnumerateArray().Any(s => s.ValueKind != JsonValueKind.String || s.GetString()!.Length == 0))
            {
                return OpenAiError.Invalid("stop_sequences: must be an array of non-empty strings.", "stop_sequences", "invalid_value");
            }

            stops = [.. stopSequences.EnumerateArray().Select(s => s.GetString()!)];
        }

        var stream = root.TryGetProperty("stream", out var streamValue) && streamValue.ValueKind == JsonValueKind.True;
        var background = root.TryGetProperty("background", out var bg) && bg.ValueKind == JsonValueKind.True;
        if (!root.TryGetOptionalInt64("seed", long.MinValue, long.MaxValue, out var seed))
        {
            return OpenAiError.Invalid("seed: must be an integer.", "seed", "invalid_value");
        }

        if (!root.TryGetOptionalInt64("resume_grace_ms", 0, (long)_options.MaxResumeGrace.TotalMilliseconds, out var graceMs))
        {
            return OpenAiError.Invalid($"resume_grace_ms: must be an integer between 0 and {(long)_options.MaxResumeGrace.TotalMilliseconds}.", "resume_grace_ms", "invalid_value");
        }

        TimeSpan? grace = graceMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null;

        if (!catalog.TryGet(model!, out var entry))
        {
            return OpenAiError.ModelNotFound(model!);
        }

        var pacing = root.SimPacing();
        var backend = new BackendRequest
        {
            Model = entry.Id,
            Messages = messages,
            MaxTokens = maxTokens,
            Temperature = temperature,
            TopP = topP,
            Seed = seed,
            Tools = tools,
            ToolChoice = toolChoice,
            SimTokensPerSecond = pacing.TokensPerSecond,
            SimTtftMs = pacing.TtftMs,
        };
        var generation = new GenerationOptions
        {
            IdPrefix = "msg_",
            MaxTokens = maxTokens,
            Stop = stops,
            Background = background,
            ResumeGrace = grace,
            Owner = owner,
            Metadata = MessagesRequest.Metadata,
        };
        result = new MessagesRequest(entry, backend, generation, stream);
        return null;
    }

    private static OpenAiError? ReadSystem(JsonElement root, List<ChatMessage> messages)
    {
        if (!root.TryGetProperty("system", out var system) || system.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var error = ReadText(system, "system", out var text);
        if (error is null && text.Length > 0)
        {
            messages.Add(new ChatMessage("system", text));
        }

        return error;
    }

    private static OpenAiError? ReadMessages(JsonElement root, List<ChatMessage> messages)
    {
        if (!root.TryGetProperty("messages", out var list) || list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
        {
            return OpenAiError.Invalid("messages: Field required (a non-empty array)", "messages", "missing_required_parameter");
        }

        var i = 0;
        foreach (var message in list.EnumerateArray())
        {
            var param = $"messages.{i++}";
            if (message.ValueKind != JsonValueKind.Object || !message.TryGetString("role", out var role) || role is not ("user" or "assistant"))
            {
                return OpenAiError.Invalid($"{param}.role: must be \"user\" or \"assistant\".", $"{param}.role", "invalid_value");
            }

            if (!message.TryGetProperty("content", out var content))
            {
                return OpenAiError.Invalid($"{param}.content: Field required", $"{param}.content", "missing_required_parameter");
            }

            if (content.ValueKind == JsonValueKind.String)
            {
                messages.Add(new ChatMessage(role!, content.GetString()!));
                continue;
            }

            if (content.ValueKind != JsonValueKind.Array)
            {
                return OpenAiError.Invalid($"{param}.content: must be a string or an array of content blocks.", $"{param}.content", "invalid_type");
            }

            var text = new System.Text.StringBuilder();
            List<ChatToolCall>? calls = null;
            var j = 0;
            foreach (var block in content.EnumerateArray())
            {
                var blockParam = $"{param}.content.{j++}";
                if (block.ValueKind != JsonValueKind.Object || !block.TryGetString("type", out var type))
                {
                    return OpenAiError.Invalid($"{blockParam}: a content block needs a 'type'.", blockParam, "invalid_value");
                }

                switch (type)
                {
                    case "text" when block.TryGetString("text", out var t):
                        text.Append(t);
                        break;
                    case "thinking" or "redacted_thinking" when role == "assistant":
                        // Earlier reasoning is not part of the prompt a model here continues from.
                        break;
                    case "tool_use" when role == "assistant" && block.TryGetString("id", out var id) && block.TryGetString("name", out var name):
                        var input = block.TryGetProperty("input", out var inputValue) ? inputValue.GetRawText() : "{}";
                        (calls ??= []).Add(new ChatToolCall(id!, name!, input));
                        break;
                    case "tool_result" when role == "user" && block.TryGetString("tool_use_id", out var useId):
                        var resultError = ReadText(block.TryGetProperty("content", out var resultContent) ? resultContent : default, $"{blockParam}.content", out var resultText);
                        if (resultError is not null)
                        {
                            return resultError;
                        }

                        messages.Add(new ChatMessage("tool", resultText) { ToolCallId = useId });
                        break;
                    case "text" or "tool_use" or "tool_result" or "thinking" or "redacted_thinking":
                        return OpenAiError.Invalid($"{blockParam}: a '{type}' block is missing fields or is not allowed in a {role} message.", blockParam, "invalid_value");
                    default:
                        return OpenAiError.Invalid($"{blockParam}.type: content blocks of type '{type}' are not supported by this server (text, tool_use, tool_result and thinking are).", $"{blockParam}.type", "unsupported_content");
                }
            }

            if (text.Length > 0 || calls is not null || messages.Count == 0 || messages[^1].Role != "tool")
            {
                messages.Add(new ChatMessage(role!, text.ToString()) { ToolCalls = calls });
            }
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
                return OpenAiError.Invalid("tools: must be an array.", "tools", "invalid_type");
            }

            tools = [];
            var i = 0;
            foreach (var tool in list.EnumerateArray())
            {
                var param = $"tools.{i++}";
                if (tool.ValueKind != JsonValueKind.Object || !tool.TryGetString("name", out var name) || string.IsNullOrEmpty(name))
                {
                    return OpenAiError.Invalid($"{param}.name: Field required", $"{param}.name", "missing_required_parameter");
                }

                if (tool.TryGetString("type", out var type) && type is not ("custom" or null))
                {
                    return OpenAiError.Invalid($"{param}.type: server tools ('{type}') are not supported by this server; give client tools with an input_schema.", $"{param}.type", "unsupported_tool");
                }

                if (!tool.TryGetProperty("input_schema", out var schema) || schema.ValueKind != JsonValueKind.Object)
                {
                    return OpenAiError.Invalid($"{param}.input_schema: Field required (an object schema)", $"{param}.input_schema", "missing_required_parameter");
                }

                tool.TryGetString("description", out var description);
                tools.Add(new ToolDefinition(name!, description, schema.Clone()));
            }
        }

        if (root.TryGetProperty("tool_choice", out var toolChoice) && toolChoice.ValueKind != JsonValueKind.Null)
        {
            toolChoice.TryGetString("type", out var type);
            choice = type switch
            {
                "auto" => ToolChoice.Auto,
                "any" => ToolChoice.Required,
                "none" => ToolChoice.None,
                "tool" when toolChoice.TryGetString("name", out var name) && tools?.Exists(t => t.Name == name) == true => new ToolChoice(ToolChoiceMode.Function, name),
                _ => null,
            };
            if (choice is null)
            {
                return OpenAiError.Invalid("tool_choice: must be {\"type\":\"auto\"|\"any\"|\"none\"} or {\"type\":\"tool\",\"name\":<one of tools>}.", "tool_choice", "invalid_value");
            }

            if (choice.Mode != ToolChoiceMode.None && (tools is null || tools.Count == 0))
            {
                return OpenAiError.Invalid("tool_choice: requires tools.", "tool_choice", "invalid_value");
            }
        }

        return null;
    }

    /// <summary>A string, or an array of text blocks (joined); anything else is a 400 for <paramref name="param"/>.</summary>
    private static OpenAiError? ReadText(JsonElement value, string param, out string text)
    {
        text = string.Empty;
        switch (value.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                return null;
            case JsonValueKind.String:
                text = value.GetString()!;
                return null;
            case JsonValueKind.Array:
                var joined = new System.Text.StringBuilder();
                foreach (var block in value.EnumerateArray())
                {
                    if (!block.TryGetString("type", out var type) || type != "text" || !block.TryGetString("text", out var t))
                    {
                        return OpenAiError.Invalid($"{param}: only text blocks are supported here (got {(type is null ? "a block without type" : $"'{type}'")}).", param, "unsupported_content");
                    }

                    joined.Append(t);
                }

                text = joined.ToString();
                return null;
            default:
                return OpenAiError.Invalid($"{param}: must be a string or an array of text blocks.", param, "invalid_type");
        }
    }

    private static OpenAiError? ReadNumber(JsonElement root, string name, float min, float max, out float? value)
        => root.TryGetOptionalSingle(name, min, max, minExclusive: false, out value) ? null : OpenAiError.Invalid($"{name}: must be a number between {min} and {max}.", name, "invalid_value");
}
