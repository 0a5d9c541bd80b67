namespace Tokenflow.Core.Streams;

/// <summary>Token counts of one generation.</summary>
/// <param name="PromptTokens">Tokens the backend consumed from the prompt.</param>
/// <param name="CompletionTokens">Tokens the backend generated (each counted, also when held back or cut by a stop sequence).</param>
public readonly record struct Usage(int PromptTokens, int CompletionTokens)
{
    /// <summary>Prompt plus completion tokens.</summary>
    public int TotalTokens => PromptTokens + CompletionTokens;
}
