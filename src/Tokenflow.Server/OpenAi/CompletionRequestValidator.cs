using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Hosting;

namespace Tokenflow.Server.OpenAi;

/// <summary>
/// Checks a parsed request against the OpenAI contract and this server's limits, in one place,
/// and turns it into a <see cref="ValidatedCompletion"/> or the <see cref="OpenAiError"/> to send.
/// </summary>
internal sealed class CompletionRequestValidator
{
    private static readonly HashSet<string> Roles = new(StringComparer.Ordinal) { "system", "developer", "user", "assistant", "tool", "function" };

    private readonly ModelCatalog _catalog;
    private readonly TokenflowOptions _options;

    public CompletionRequestValidator(ModelCatalog catalog, IOptions<TokenflowOptions> options)
    {
        _catalog = catalog;
        _options = options.Value;
    }

    public OpenAiError? Validate(CompletionKind kind, CompletionRequest request, string? owner, out ValidatedCompletion? result)
    {
        result = null;
        if (string.IsNullOrWhiteSpace(request.Model))
        {
            return OpenAiError.Invalid("'model' is required.", "model", "missing_required_parameter");
        }

        List<ChatMessage>? messages = null;
        string? prompt = null;
        var agent = new AgentFields();
        if (kind == CompletionKind.Chat)
        {
            var error = ValidateMessages(request.Messages, request.Model, out messages) ?? ValidateAgentFields(request, out agent);
            if (error is not null)
            {
                return error;
            }
        }
        else
        {
            var error = ValidatePrompt(request.Prompt, out prompt) ?? RefuseChatOnlyFields(request);
            if (error is not null)
            {
                return error;
            }
        }

        if (request.N is { } n && n != 1)
        {
            return OpenAiError.Invalid($"'n' must be 1 (got {n}): this server generates one choice per request.", "n", "invalid_value");
        }

        if (request.MaxTokens is not null && request.MaxCompletionTokens is not null && request.MaxTokens != request.MaxCompletionTokens)
        {
            return OpenAiError.Invalid("Set either 'max_tokens' or 'max_completion_tokens', not two different values.", "max_tokens", "invalid_value");
        }

        var maxTokens = request.MaxCompletionTokens ?? request.MaxTokens;
        var maxParam = request.MaxCompletionTokens is null ? "max_tokens" : "max_completion_tokens";
        if (maxTokens is { } m && (m < 1 || m > _options.MaxTokensLimit))
        {
            return OpenAiError.Invalid($"'{maxParam}' must be between 1 and {_options.MaxTokensLimit} (got {m}).", maxParam, "invalid_value");
        }

        if (request.Temperature is { } t && (!float.IsFinite(t) || t < 0 || t > 2))
        {
            return OpenAiError.Invalid($"'temperature' must be between 0 and 2 (got {t}).", "temperature", "invalid_value");
        }

        if (request.TopP is { } p && (!float.IsFinite(p) || p <= 0 || p > 1))
        {
            return OpenAiError.Invalid($"'top_p' must be greater than 0 and at most 1 (got {p}).", "top_p", "invalid_value");
        }

        var stopError = ValidateStop(request.Stop, out var stops);
        if (stopError is not null)
        {
            return stopError;
        }

        if (request.ResumeGraceMs is { } grace && (grace < 0 || grace > _options.MaxResumeGrace.TotalMilliseconds))
        {
            return OpenAiError.Invalid($"'resume_grace_ms' must be between 0 and {(long)_options.MaxResumeGrace.TotalMilliseconds} (got {grace}).", "resume_grace_ms", "invalid_value");
        }

        StreamRetention? retention = request.Retention switch
        {
            null => null,
            "ttl" => StreamRetention.Ttl,
            "none" => StreamRetention.None,
            _ => (StreamRetention)byte.MaxValue,
        };
        if (retention == (StreamRetention)byte.MaxValue)
        {
            return OpenAiError.Invalid($"'retention' must be \"ttl\" or \"none\" (got \"{request.Retention}\").", "retention", "invalid_value");
        }

        if (request.SimTokensPerSecond is { } tps && (!double.IsFinite(tps) || tps < 0))
        {
            return OpenAiError.Invalid("'sim_tokens_per_second' must be 0 or more.", "sim_tokens_per_second", "invalid_value");
        }

        if (request.SimTtftMs is { } ttft && (ttft < 0 || ttft > 600_000))
        {
            return OpenAiError.Invalid("'sim_ttft_ms' must be between 0 and 600000.", "sim_ttft_ms", "invalid_value");
        }

        if (request.SimToolCalls is { } calls && (calls < 1 || calls > ToolRequestParser.MaxSimToolCalls))
        {
            return OpenAiError.Invalid($"'sim_tool_calls' must be between 1 and {ToolRequestParser.MaxSimToolCalls} (got {calls}).", "sim_tool_calls", "invalid_value");
        }

        if (request.StreamOptions is not null && request.Stream != true)
        {
            return OpenAiError.Invalid("'stream_options' is only allowed when 'stream' is true.", "stream_options", "invalid_value");
        }

        var watchError = WatchRequestParser.Parse(request.Watch, request.CancelOn, out var watches);
        if (watchError is not null)
        {
            return watchError;
        }

        if (!_catalog.TryGet(request.Model, out var model))
        {
            return OpenAiError.ModelNotFound(request.Model);
        }

        var effectiveMax = maxTokens ?? DefaultMaxTokens(model);
        var backend = new BackendRequest
        {
            Model = model.Id,
            Messages = messages,
            Prompt = prompt,
            // A backend that limits tokens itself (an upstream) gets the client's limit or 0 = its own default.
            MaxTokens = model.BackendLimitsTokens ? maxTokens ?? 0 : effectiveMax,
            Temperature = request.Temperature,
            TopP = request.TopP,
            Seed = request.Seed,
            SimTokensPerSecond = request.SimTokensPerSecond ?? 0,
            SimTtftMs = request.SimTtftMs ?? 0,
            SimToolCalls = request.SimToolCalls ?? 1,
            Tools = agent.Tools,
            ToolChoice = agent.ToolChoice,
            ParallelToolCalls = agent.ParallelToolCalls,
            ResponseFormat = agent.ResponseFormat,
        };
        var generation = new GenerationOptions
        {
            IdPrefix = kind == CompletionKind.Chat ? "chatcmpl-" : "cmpl-",
            MaxTokens = model.BackendLimitsTokens ? int.MaxValue : effectiveMax,
            Stop = stops,
            Background = request.Background ?? false,
            ResumeGrace = request.ResumeGraceMs is { } g ? TimeSpan.FromMilliseconds(g) : null,
            Retention = retention,
            Owner = owner,
            Metadata = ReplayFormat.Encode(kind, request.StreamOptions?.IncludeUsage ?? false, request.StreamOptions?.PartialJson ?? false),
            Watches = watches,
            CancelOn = request.CancelOn,
        };

        result = new ValidatedCompletion(kind, model, backend, generation, request.Stream ?? false, request.StreamOptions?.IncludeUsage ?? false)
        {
            PartialJson = request.StreamOptions?.PartialJson ?? false,
        };
        return null;
    }

    private int DefaultMaxTokens(ModelEntry model)
        => model.Id == Tokenflow.Core.Sim.SimBackend.ModelId ? 64
            : model.ContextLength > 0 ? Math.Min(model.ContextLength, _options.DefaultMaxTokens) : _options.DefaultMaxTokens;

    /// <summary><c>tools</c>, <c>tool_choice</c>, <c>parallel_tool_calls</c> and <c>response_format</c> of a chat request.</summary>
    private static OpenAiError? ValidateAgentFields(CompletionRequest request, out AgentFields fields)
    {
        fields = new AgentFields();
        if (request.Functions.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null)
            || request.FunctionCall.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null))
        {
            var param = request.Functions.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null ? "function_call" : "functions";
            return OpenAiError.Invalid($"'{param}' (deprecated by OpenAI) is not supported: send 'tools' and 'tool_choice' instead.", param, "unsupported_parameter");
        }

        ToolChoice? choice = null;
        var parallel = true;
        ResponseFormat? format = null;
        var error = ToolRequestParser.ReadTools(request.Tools, out var tools)
            ?? ToolRequestParser.ReadToolChoice(request.ToolChoice, tools, out choice)
            ?? ToolRequestParser.ReadParallelToolCalls(request.ParallelToolCalls, tools, out parallel)
            ?? ToolRequestParser.ReadResponseFormat(request.ResponseFormat, out format);
        if (error is not null)
        {
            return error;
        }

        fields = new AgentFields(tools, choice, parallel, format);
        return null;
    }

    /// <summary>Plain-prompt completions have no tools or response formats: refuse them rather than ignore them.</summary>
    private static OpenAiError? RefuseChatOnlyFields(CompletionRequest request)
    {
        (JsonElement Value, string Name)[] fields =
        [
            (request.Tools, "tools"), (request.ToolChoice, "tool_choice"), (request.ParallelToolCalls, "parallel_tool_calls"),
            (request.ResponseFormat, "response_format"), (request.Functions, "functions"), (request.FunctionCall, "function_call"),
        ];
        foreach (var (value, name) in fields)
        {
            if (value.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null))
            {
                return OpenAiError.Invalid($"'{name}' is only supported on /v1/chat/completions, not on /v1/completions.", name, "unsupported_parameter");
            }
        }

        return null;
    }

    private static OpenAiError? ValidateMessages(List<ChatMessageDto?>? dtos, string model, out List<ChatMessage>? messages)
    {
        messages = null;
        if (dtos is null)
        {
            return OpenAiError.Invalid("'messages' is required.", "messages", "missing_required_parameter");
        }

        if (dtos.Count == 0)
        {
            return OpenAiError.Invalid("'messages' must contain at least one message.", "messages", "invalid_value");
        }

        messages = new List<ChatMessage>(dtos.Count);
        for (var i = 0; i < dtos.Count; i++)
        {
            var dto = dtos[i];
            if (dto is null)
            {
                return OpenAiError.Invalid($"'messages[{i}]' must be an object.", $"messages[{i}]", "invalid_type");
            }

            if (dto.Role is null || !Roles.Contains(dto.Role))
            {
                return OpenAiError.Invalid($"'messages[{i}].role' must be one of system, developer, user, assistant, tool (got {(dto.Role is null ? "nothing" : $"'{dto.Role}'")}).", $"messages[{i}].role", "invalid_value");
            }

            var error = ReadMessage(dto, i, model, out var message);
            if (error is not null)
            {
                return error;
            }

            messages.Add(message!);
        }

        return ToolRequestParser.CheckToolTurns(messages);
    }

    private static OpenAiError? ReadMessage(ChatMessageDto dto, int i, string model, out ChatMessage? message)
    {
        message = null;
        var at = $"messages[{i}]";
        var assistant = dto.Role == "assistant";
        var error = ReadContent(dto.Content, $"{at}.content", assistant, assistant, model, out var text);
        if (error is not null)
        {
            return error;
        }

        List<ChatToolCall>? calls = null;
        if (dto.ToolCalls.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null))
        {
            if (!assistant)
            {
                return OpenAiError.Invalid($"'{at}.tool_calls' is only allowed on messages with role 'assistant' (this one is '{dto.Role}').", $"{at}.tool_calls", "invalid_value");
            }

            error = ToolRequestParser.ReadToolCalls(dto.ToolCalls, $"{at}.tool_calls", out calls);
            if (error is not null)
            {
                return error;
            }
        }

        string? toolCallId = null;
        if (dto.Role == "tool")
        {
            if (dto.ToolCallId.ValueKind != JsonValueKind.String || dto.ToolCallId.GetString()!.Length == 0)
            {
                return OpenAiError.Invalid($"'{at}.tool_call_id' is required: a message with role 'tool' answers the tool call with that id.", $"{at}.tool_call_id", "missing_required_parameter");
            }

            toolCallId = dto.ToolCallId.GetString();
        }

        string? name = null;
        if (dto.Name.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null))
        {
            if (dto.Name.ValueKind != JsonValueKind.String)
            {
                return OpenAiError.Invalid($"'{at}.name' must be a string.", $"{at}.name", "invalid_type");
            }

            name = dto.Name.GetString();
        }

        message = new ChatMessage(dto.Role!, text) { ToolCalls = calls, ToolCallId = toolCallId, Name = name };
        return null;
    }

    private static OpenAiError? ReadContent(JsonElement content, string param, bool mayBeNull, bool mayRefuse, string model, out string text)
    {
        text = string.Empty;
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                text = content.GetString()!;
                return null;
            case JsonValueKind.Undefined or JsonValueKind.Null when mayBeNull:
                return null;
            case JsonValueKind.Array:
                var builder = new StringBuilder();
                var index = 0;
                foreach (var part in content.EnumerateArray())
                {
                    var at = $"{param}[{index}]";
                    var type = part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                    var field = type == "refusal" && mayRefuse ? "refusal" : "text";
                    switch (type)
                    {
                        case "text" or "refusal" when type == field:
                            if (!part.TryGetProperty(field, out var partText) || partText.ValueKind != JsonValueKind.String)
                            {
                                return OpenAiError.Invalid($"'{at}.{field}' is required and must be a string.", $"{at}.{field}", "invalid_value");
                            }

                            builder.Append(partText.GetString());
                            break;
                        case "image_url" or "input_audio" or "file" or "image" or "audio" or "input_image" or "input_file":
                            // A request feature the model cannot honour is refused by name, never dropped.
                            return OpenAiError.Invalid($"Content part type '{type}' is not supported by model '{ToolRequestParser.Shorten(model)}' ('{at}.type'): it reads text only.", $"{at}.type", "unsupported_value");
                        case null:
                            return OpenAiError.Invalid($"'{at}' must be a text part {{\"type\":\"text\",\"text\":\"…\"}}.", at, "invalid_value");
                        default:
                            return OpenAiError.Invalid($"'{at}.type' must be \"text\" (got '{ToolRequestParser.Shorten(type)}').", $"{at}.type", "invalid_value");
                    }

                    index++;
                }

                text = builder.ToString();
                return null;
            default:
                return OpenAiError.Invalid($"'{param}' must be a string or an array of text parts.", param, "invalid_type");
        }
    }

    private static OpenAiError? ValidatePrompt(JsonElement prompt, out string? text)
    {
        text = null;
        switch (prompt.ValueKind)
        {
            case JsonValueKind.String:
                text = prompt.GetString();
                return null;
            case JsonValueKind.Array when prompt.GetArrayLength() == 1 && prompt[0].ValueKind == JsonValueKind.String:
                text = prompt[0].GetString();
                return null;
            case JsonValueKind.Undefined:
                return OpenAiError.Invalid("'prompt' is required.", "prompt", "missing_required_parameter");
            default:
                return OpenAiError.Invalid("'prompt' must be a string (or an array holding one string: this server generates one choice per request).", "prompt", "invalid_type");
        }
    }

    private static OpenAiError? ValidateStop(JsonElement stop, out List<string>? stops)
    {
        stops = null;
        switch (stop.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                return null;
            case JsonValueKind.String:
                stops = [stop.GetString()!];
                break;
            case JsonValueKind.Array:
                stops = [];
                foreach (var item in stop.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String)
                    {
                        return OpenAiError.Invalid("'stop' must be a string or an array of strings.", "stop", "invalid_type");
                    }

                    stops.Add(item.GetString()!);
                }

                break;
            default:
                return OpenAiError.Invalid("'stop' must be a string or an array of strings.", "stop", "invalid_type");
        }

        if (stops.Count > 4)
        {
            return OpenAiError.Invalid($"'stop' may hold at most 4 sequences (got {stops.Count}).", "stop", "invalid_value");
        }

        if (stops.Any(s => s.Length == 0 || Encoding.UTF8.GetByteCount(s) > 256))
        {
            return OpenAiError.Invalid("Each 'stop' sequence must be 1 to 256 bytes long.", "stop", "invalid_value");
        }

        return null;
    }

    /// <summary>The agent fields of a chat request, read and checked.</summary>
    private readonly record struct AgentFields(List<ToolDefinition>? Tools, ToolChoice? ToolChoice, bool ParallelToolCalls, ResponseFormat? ResponseFormat)
    {
        public AgentFields()
            : this(null, null, true, null)
        {
        }
    }
}
