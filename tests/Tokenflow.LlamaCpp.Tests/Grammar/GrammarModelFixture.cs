using LLama;
using LLama.Common;
using Microsoft.Extensions.Logging.Abstractions;
using Tokenflow.LlamaCpp.Grammar;
using Tokenflow.LlamaCpp.Native;

namespace Tokenflow.LlamaCpp.Tests.Grammar;

/// <summary>The embedded model's weights (no context), to ask llama.cpp whether grammars parse.</summary>
public sealed class GrammarModelFixture : IDisposable
{
    private readonly LLamaWeights _weights;

    public GrammarModelFixture()
    {
        LlamaNativeRuntime.EnsureInitialized(NullLoggerFactory.Instance);
        _weights = LLamaWeights.LoadFromFile(new ModelParams(TestModel.RequirePath()));
    }

    internal bool Parses(string grammar) => LlamaGrammarNative.Parses(_weights.NativeHandle, grammar);

    public void Dispose() => _weights.Dispose();
}
