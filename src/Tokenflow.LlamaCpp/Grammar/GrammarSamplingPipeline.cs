using LLama.Native;
using LLama.Sampling;

namespace Tokenflow.LlamaCpp.Grammar;

/// <summary>
/// A sampler chain that first removes every token the grammar does not allow next, then samples as the
/// unconstrained pipeline does (top-k 40, top-p, min-p 0.05, temperature, seeded), or greedily at temperature 0.
/// The grammar comes first so that truncation (top-k, top-p) only ever chooses among allowed tokens. One per
/// sequence: the grammar's state advances with every token sampled (llama_sampler_sample accepts it).
/// </summary>
internal sealed class GrammarSamplingPipeline : BaseSamplingPipeline
{
    /// <summary>The GBNF grammar; must parse (checked with <see cref="LlamaGrammarNative.Parses"/> beforehand).</summary>
    public required string Grammar { get; init; }

    /// <summary>Sampling temperature; 0 or less = greedy.</summary>
    public float Temperature { get; init; }

    /// <summary>Nucleus sampling mass.</summary>
    public float TopP { get; init; } = 1;

    /// <summary>The random seed.</summary>
    public uint Seed { get; init; }

    /// <inheritdoc />
    protected override SafeLLamaSamplerChainHandle CreateChain(SafeLLamaContextHandle context)
    {
        var chain = SafeLLamaSamplerChainHandle.Create(LLamaSamplerChainParams.Default());
        chain.AddGrammar(context.ModelHandle.Vocab, Grammar, JsonSchemaGrammar.RootRule);
        if (Temperature <= 0)
        {
            chain.AddGreedySampler();
            return chain;
        }

        chain.AddTopK(40);
        chain.AddTopP(TopP, 1);
        chain.AddMinP(0.05f, 1);
        chain.AddTemperature(Temperature);
        chain.AddDistributionSampler(Seed);
        return chain;
    }
}
