using System.Text.Json;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Sim;
using Tokenflow.Server.Hosting;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Mcp;

/// <summary>
/// The arguments of <c>generate</c> and <c>start_generation</c>: their JSON schema, and their
/// translation into a <see cref="CompletionRequest"/> checked by the same
/// <see cref="CompletionRequestValidator"/> as <c>/v1/chat/completions</c> — so limits and messages
/// are the HTTP API's. <c>prompt</c> makes a text completion, <c>messages</c> a chat completion.
/// </summary>
internal sealed class GenerationArguments
{
    /// <summary>The embedded model's id: the default model when this server serves it.</summary>
    public const string EmbeddedModelId = Hosting.ModelRegistration.EmbeddedModelId;

    /// <summary>Every argument name the generation tools accept.</summary>
    public static readonly IReadOnlyList<string> Names =
        ["prompt", "messages", "model", "max_tokens", "temperature", "seed", "stop", "sim_tokens_per_second", "sim_ttft_ms",
         "tools", "tool_choice", "parallel_tool_calls", "response_format", "sim_tool_calls"];

    private readonly CompletionRequestValidator _validator;
    private readonly string _models;
    private readonly int _maxTokensLimit;

    public GenerationArguments(CompletionRequestValidator validator, ModelCatalog catalog, IOptions<TokenflowOptions> options)
    {
        _validator = validator;
        _maxTokensLimit = options.Value.MaxTokensLimit;
        DefaultModel = catalog.TryGet(EmbeddedModelId, out _) ? EmbeddedModelId : SimBackend.ModelId;
        _models = string.Join(", ", catalog.Models.Select(m => m.Id));
        InputSchema = JsonDocument.Parse($$"""
            {
              "type": "object",
              "properties": {
                "prompt": { "type": "string", "description": "Text for the model to continue. Give this or 'messages'." },
                "messages": {
                  "type": "array",
                  "minItems": 1,
                  "description": "A chat for the model to answer. Give this or 'prompt'.",
                  "items": {
                    "type": "object",
                    "properties": {
                      "role": { "type": "string", "enum": ["system", "developer", "user", "assistant", "tool"] },
                      "content": { "description": "Text, or an array of {\"type\":\"text\",\"text\"} parts; null for an assistant message that only calls tools.", "type": ["string", "array", "null"] },
                      "tool_calls": { "type": "array", "description": "An assistant message's calls: [{id, type: \"function\", function: {name, arguments} }].", "items": { "type": "object" } },
                      "tool_call_id": { "type": "string", "description": "A tool message: the call it answers." },
                      "name": { "type": "string" }
                    },
                    "required": ["role"]
                  }
                },
                "model": { "type": "string", "description": "Model id. Served here: {{_models}}. Default: {{DefaultModel}}." },
                "max_tokens": { "type": "integer", "minimum": 1, "maximum": {{_maxTokensLimit}}, "description": "Most tokens to generate." },
                "temperature": { "type": "number", "minimum": 0, "maximum": 2, "description": "Sampling temperature; 0 is greedy." },
                "seed": { "type": "integer", "description": "Random seed: the same seed and request give the same text." },
                "stop": {
                  "description": "Up to 4 stop sequences; the output ends before the first match.",
                  "anyOf": [
                    { "type": "string" },
                    { "type": "array", "items": { "type": "string" }, "maxItems": 4 }
                  ]
                },
                "sim_tokens_per_second": { "type": "number", "minimum": 0, "description": "Model 'sim' only: output pace in tokens per second (0 = as fast as possible)." },
                "sim_ttft_ms": { "type": "integer", "minimum": 0, "maximum": 600000, "description": "Model 'sim' only: delay before the first token, in milliseconds." },
                "tools": { "type": "array", "minItems": 1, "description": "Functions the model may call, as in OpenAI chat completions: [{type: \"function\", function: {name, description, parameters} }]. Needs 'messages'.", "items": { "type": "object" } },
                "tool_choice": { "description": "\"none\", \"auto\", \"required\" or {type: \"function\", function: {name} }.", "anyOf": [{ "type": "string", "enum": ["none", "auto", "required"] }, { "type": "object" }] },
                "parallel_tool_calls": { "type": "boolean", "description": "Whether the model may make several calls at once (default true)." },
                "response_format": { "type": "object", "description": "{type: \"text\"}, {type: \"json_object\"} or {type: \"json_schema\", json_schema: {name, schema, strict} }." },
                "sim_tool_calls": { "type": "integer", "minimum": 1, "maximum": {{ToolRequestParser.MaxSimToolCalls}}, "description": "Model 'sim' only: how many tool calls to make when tools are forced (default 1)." }
              },
              "additionalProperties": false
            }
            """).RootElement.Clone();
    }

    /// <summary>The model used when a call names none.</summary>
    public string DefaultModel { get; }

    /// <summary>The JSON schema of the arguments.</summary>
    public JsonElement InputSchema { get; }

    /// <summary>
    /// Checks the arguments and returns the generation to start, or null with <paramref name="error"/>
    /// saying what is wrong. <paramref name="background"/> streams are not cancelled when their readers leave.
    /// </summary>
    public ValidatedCompletion? Read(ToolArguments args, string? owner, bool background, out string? error)
    {
        var request = new CompletionRequest
        {
            Model = args.String("model") ?? DefaultModel,
            MaxTokens = (int?)args.Integer("max_tokens", 1, _maxTokensLimit),
            Temperature = (float?)args.Number("temperature"),
            Seed = args.Integer("seed", long.MinValue, long.MaxValue),
            Stop = args.Raw("stop"),
            SimTokensPerSecond = args.Number("sim_tokens_per_second"),
            SimTtftMs = (int?)args.Integer("sim_ttft_ms", 0, 600_000),
            SimToolCalls = (int?)args.Integer("sim_tool_calls", 1, ToolRequestParser.MaxSimToolCalls),
            Tools = args.Raw("tools"),
            ToolChoice = args.Raw("tool_choice"),
            ParallelToolCalls = args.Raw("parallel_tool_calls"),
            ResponseFormat = args.Raw("response_format"),
            Background = background,
            // Readers of /v1/streams/{id}/events get the usage chunk too.
            Stream = true,
            StreamOptions = new StreamOptionsDto { IncludeUsage = true },
        };

        var kind = CompletionKind.Text;
        switch (args.Has("prompt"), args.Has("messages"))
        {
            case (true, true):
                args.Fail("Give either 'prompt' (text to continue) or 'messages' (a chat), not both.");
                break;
            case (false, false):
                args.Fail("Give 'prompt' (text to continue) or 'messages' (a chat as [{\"role\":\"user\",\"content\":\"…\"}]).");
                break;
            case (true, false):
                request.Prompt = args.Raw("prompt");
                if (request.Prompt.ValueKind != JsonValueKind.String)
                {
                    args.Fail($"'prompt' must be a string (got {ToolArguments.Describe(request.Prompt)}).");
                }

                break;
            default:
                kind = CompletionKind.Chat;
                request.Messages = ReadMessages(args);
                break;
        }

        if (args.Error is not null)
        {
            error = args.Error;
            return null;
        }

        var invalid = _validator.Validate(kind, request, owner, out var completion);
        error = invalid?.Code == "model_not_found"
            ? $"Unknown model '{request.Model}'. Served here: {_models}."
            : invalid?.Message;
        return completion;
    }

    private static List<ChatMessageDto?>? ReadMessages(ToolArguments args)
    {
        var messages = args.Raw("messages");
        if (messages.ValueKind != JsonValueKind.Array)
        {
            args.Fail($"'messages' must be an array of {{\"role\",\"content\"}} objects (got {ToolArguments.Describe(messages)}).");
            return null;
        }

        var list = new List<ChatMessageDto?>(messages.GetArrayLength());
        var index = 0;
        foreach (var item in messages.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object)
            {
                args.Fail($"'messages[{index}]' must be an object with 'role' and 'content' (got {ToolArguments.Describe(item)}).");
                return null;
            }

            var role = item.TryGetProperty("role", out var r) ? r : default;
            if (role.ValueKind != JsonValueKind.String)
            {
                args.Fail($"'messages[{index}].role' must be a string: system, developer, user, assistant or tool.");
                return null;
            }

            list.Add(new ChatMessageDto
            {
                Role = role.GetString(),
                Content = item.TryGetProperty("content", out var content) ? content : default,
                ToolCalls = item.TryGetProperty("tool_calls", out var calls) ? calls : default,
                ToolCallId = item.TryGetProperty("tool_call_id", out var callId) ? callId : default,
                Name = item.TryGetProperty("name", out var name) ? name : default,
            });
            index++;
        }

        return list;
    }
}
