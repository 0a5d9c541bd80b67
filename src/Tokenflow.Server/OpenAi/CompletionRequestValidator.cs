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
        if (kind == CompletionKind.Chat)
        {
            var error = ValidateMessages(request.Messages, out messages);
            if (error is not null)
            {
                return error;
            }
        }
        else
        {
            var error = ValidatePrompt(request.Prompt, out prompt);
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

    private static OpenAiError? ValidateMessages(List<ChatMessageDto?>? dtos, out List<ChatMessage>? messages)
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

            var error = ReadContent(dto.Content, $"messages[{i}].content", dto.Role == "assistant", out var text);
            if (error is not null)
            {
                return error;
            }

            messages.Add(new ChatMessage(dto.Role, text));
        }

        return null;
    }

    private static OpenAiError? ReadContent(JsonElement content, string param, bool mayBeNull, out string text)
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
                    if (part.ValueKind != JsonValueKind.Object
                        || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String
                        || type.GetString() != "text"
                        || !part.TryGetProperty("text", out var partText) || partText.ValueKind != JsonValueKind.String)
                    {
                        return OpenAiError.Invalid($"'{param}[{index}]' must be a text part {{\"type\":\"text\",\"text\":\"…\"}}: this server's models read text only.", $"{param}[{index}]", "invalid_value");
                    }

                    builder.Append(partText.GetString());
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
}
