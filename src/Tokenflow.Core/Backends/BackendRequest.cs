namespace Tokenflow.Core.Backends;

/// <summary>
/// What a backend is asked to generate: either chat <see cref="Messages"/> or a plain
/// <see cref="Prompt"/>, with sampling settings. Validated before it reaches a backend.
/// </summary>
public sealed class BackendRequest
{
    /// <summary>The model id the request was routed by.</summary>
    public required string Model { get; init; }

    /// <summary>Chat messages (chat completions); null for plain-prompt completions.</summary>
    public IReadOnlyList<ChatMessage>? Messages { get; init; }

    /// <summary>The plain prompt (completions); null for chat requests.</summary>
    public string? Prompt { get; init; }

    /// <summary>The most tokens to generate. The generation also enforces it.</summary>
    public int MaxTokens { get; init; } = 64;

    /// <summary>Sampling temperature (0 = greedy); null = the backend's default.</summary>
    public float? Temperature { get; init; }

    /// <summary>Nucleus sampling mass; null = the backend's default.</summary>
    public float? TopP { get; init; }

    /// <summary>Random seed; the same seed and request give the same tokens.</summary>
    public long? Seed { get; init; }

    /// <summary>Simulated backend only: tokens per second (0 = as fast as possible).</summary>
    public double SimTokensPerSecond { get; init; }

    /// <summary>Simulated backend only: delay before the first token, in milliseconds.</summary>
    public int SimTtftMs { get; init; }

    /// <summary>Simulated backend only: how many tool calls to make when tools are forced (default 1).</summary>
    public int SimToolCalls { get; init; } = 1;

    /// <summary>Functions the model may call; null or empty = none.</summary>
    public IReadOnlyList<ToolDefinition>? Tools { get; init; }

    /// <summary>How the model may use <see cref="Tools"/>; null = auto when tools are given.</summary>
    public ToolChoice? ToolChoice { get; init; }

    /// <summary>Whether the model may make several tool calls in one turn (OpenAI default true).</summary>
    public bool ParallelToolCalls { get; init; } = true;

    /// <summary>The shape of the answer text; null = free text.</summary>
    public ResponseFormat? ResponseFormat { get; init; }

    /// <summary>
    /// The request's stop sequences, set by the generation from <see cref="Generation.GenerationOptions.Stop"/>
    /// (which matches them itself, on every backend): a backend that can stop on its own (an upstream) passes
    /// them on so the model stops there instead of generating past them.
    /// </summary>
    public IReadOnlyList<string>? Stop { get; set; }

    /// <summary>
    /// Set by the backend, before it yields its first piece, to the number of prompt tokens it
    /// consumed. Read by the generation for usage.
    /// </summary>
    public int PromptTokens { get; set; }

    /// <summary>
    /// Set by a backend that learns the true number of generated tokens (an upstream's usage);
    /// null = the generation counts one token per piece.
    /// </summary>
    public int? CompletionTokens { get; set; }

    /// <summary>
    /// Set by a backend that learns why the model stopped (an upstream's <c>finish_reason</c>);
    /// <see cref="Streams.FinishReason.None"/> = the generation decides.
    /// </summary>
    public Streams.FinishReason FinishReason { get; set; }
}
