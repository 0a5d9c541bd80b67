using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tokenflow.Server.OpenAi;

/// <summary>
/// The body of <c>POST /v1/chat/completions</c> and <c>POST /v1/completions</c> as sent on the
/// wire. Fields with several accepted shapes (<c>stop</c>, <c>prompt</c>, message content) stay
/// <see cref="JsonElement"/> and are checked by <see cref="CompletionRequestValidator"/>.
/// </summary>
internal sealed class CompletionRequest
{
    [JsonPropertyName("model")]
    public string? Model { get; set; }

    [JsonPropertyName("messages")]
    public List<ChatMessageDto?>? Messages { get; set; }

    [JsonPropertyName("prompt")]
    public JsonElement Prompt { get; set; }

    [JsonPropertyName("stream")]
    public bool? Stream { get; set; }

    [JsonPropertyName("stream_options")]
    public StreamOptionsDto? StreamOptions { get; set; }

    [JsonPropertyName("max_tokens")]
    public int? MaxTokens { get; set; }

    [JsonPropertyName("max_completion_tokens")]
    public int? MaxCompletionTokens { get; set; }

    [JsonPropertyName("temperature")]
    public float? Temperature { get; set; }

    [JsonPropertyName("top_p")]
    public float? TopP { get; set; }

    [JsonPropertyName("seed")]
    public long? Seed { get; set; }

    [JsonPropertyName("stop")]
    public JsonElement Stop { get; set; }

    [JsonPropertyName("n")]
    public int? N { get; set; }

    [JsonPropertyName("background")]
    public bool? Background { get; set; }

    [JsonPropertyName("retention")]
    public string? Retention { get; set; }

    [JsonPropertyName("resume_grace_ms")]
    public int? ResumeGraceMs { get; set; }

    [JsonPropertyName("sim_tokens_per_second")]
    public double? SimTokensPerSecond { get; set; }

    [JsonPropertyName("sim_ttft_ms")]
    public int? SimTtftMs { get; set; }

    /// <summary>Watches (triggers on partial output); checked by <see cref="WatchRequestParser"/>.</summary>
    [JsonPropertyName("watch")]
    public JsonElement Watch { get; set; }

    [JsonPropertyName("cancel_on")]
    public string? CancelOn { get; set; }
}

/// <summary>One chat message on the wire.</summary>
internal sealed class ChatMessageDto
{
    [JsonPropertyName("role")]
    public string? Role { get; set; }

    [JsonPropertyName("content")]
    public JsonElement Content { get; set; }
}

/// <summary><c>stream_options</c> on the wire.</summary>
internal sealed class StreamOptionsDto
{
    [JsonPropertyName("include_usage")]
    public bool? IncludeUsage { get; set; }

    [JsonPropertyName("partial_json")]
    public bool? PartialJson { get; set; }
}

/// <summary>Source-generated serialization for the OpenAI request types.</summary>
[JsonSourceGenerationOptions(NumberHandling = JsonNumberHandling.Strict, AllowTrailingCommas = false, ReadCommentHandling = JsonCommentHandling.Disallow)]
[JsonSerializable(typeof(CompletionRequest))]
internal sealed partial class OpenAiJsonContext : JsonSerializerContext;
