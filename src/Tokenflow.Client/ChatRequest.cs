using System.Text.Json.Nodes;

namespace Tokenflow.Client;

/// <summary>
/// A chat completion request (<c>POST /v1/chat/completions</c>). It is always sent with
/// <c>"stream": true</c>; unset fields are left out so the server's defaults apply.
/// </summary>
public sealed class ChatRequest
{
    /// <summary>The model id (<c>sim</c>, <c>tokenflow-tiny</c>, an upstream model).</summary>
    public required string Model { get; set; }

    /// <summary>The conversation so far.</summary>
    public IList<ChatRequestMessage> Messages { get; set; } = [];

    /// <summary>Most tokens to generate (<c>max_tokens</c>).</summary>
    public int? MaxTokens { get; set; }

    /// <summary>Sampling temperature.</summary>
    public float? Temperature { get; set; }

    /// <summary>Nucleus sampling mass (<c>top_p</c>).</summary>
    public float? TopP { get; set; }

    /// <summary>Seed for reproducible output (<c>sim</c> is fully deterministic with it).</summary>
    public long? Seed { get; set; }

    /// <summary>Up to four stop sequences.</summary>
    public IList<string>? Stop { get; set; }

    /// <summary>Ask for the usage chunk at the end (<c>stream_options.include_usage</c>). Default true.</summary>
    public bool IncludeUsage { get; set; } = true;

    /// <summary>
    /// Tokenflow extension: keep generating when every reader has gone (only an explicit cancel stops it).
    /// Such streams are not cancelled when the caller stops reading.
    /// </summary>
    public bool? Background { get; set; }

    /// <summary>Tokenflow extension: how long the server keeps generating for a reader that dropped (<c>resume_grace_ms</c>).</summary>
    public int? ResumeGraceMs { get; set; }

    /// <summary>
    /// Further top-level request fields, written as given — for example the <c>sim</c> model's
    /// <c>sim_tokens_per_second</c> and <c>sim_ttft_ms</c>.
    /// </summary>
    public IDictionary<string, JsonNode?> AdditionalProperties { get; } = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);

    /// <summary>A request for <paramref name="model"/> with a single user message.</summary>
    public static ChatRequest FromPrompt(string model, string prompt) => new() { Model = model, Messages = [ChatRequestMessage.User(prompt)] };
}
