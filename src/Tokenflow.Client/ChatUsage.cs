namespace Tokenflow.Client;

/// <summary>Token counts of a generation, and Tokenflow's server-side timings when the server reports them.</summary>
public sealed record ChatUsage
{
    /// <summary>Tokens in the prompt.</summary>
    public int PromptTokens { get; init; }

    /// <summary>Tokens generated.</summary>
    public int CompletionTokens { get; init; }

    /// <summary>Prompt and completion tokens together.</summary>
    public int TotalTokens { get; init; }

    /// <summary>Time from request to first token as measured by the server (<c>timings.ttft_ms</c>), when reported.</summary>
    public TimeSpan? TimeToFirstToken { get; init; }

    /// <summary>Mean time per output token after the first, as measured by the server (<c>timings.tpot_ms</c>), when reported.</summary>
    public TimeSpan? TimePerOutputToken { get; init; }
}
