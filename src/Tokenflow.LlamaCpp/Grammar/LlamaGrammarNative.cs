using System.Runtime.InteropServices;
using System.Text;
using LLama.Native;

namespace Tokenflow.LlamaCpp.Grammar;

/// <summary>
/// Asks llama.cpp itself whether a grammar parses. Needed because LLamaSharp's <c>AddGrammar</c> adds
/// whatever <c>llama_sampler_init_grammar</c> returns to the chain, and that is null for a grammar llama.cpp
/// rejects (syntax, undefined rule, left recursion), which would crash the process at the first sample.
/// </summary>
internal static unsafe class LlamaGrammarNative
{
    private static readonly Lazy<(nint GetVocab, nint Init, nint Free)> Functions = new(Resolve);

    /// <summary>True when llama.cpp accepts <paramref name="grammar"/> for the vocabulary of <paramref name="model"/>. Any thread.</summary>
    public static bool Parses(SafeLlamaModelHandle model, string grammar)
    {
        var (getVocab, init, free) = Functions.Value;
        var grammarBytes = Encoding.UTF8.GetBytes(grammar + "\0");
        var rootBytes = Encoding.UTF8.GetBytes(JsonSchemaGrammar.RootRule + "\0");
        var added = false;
        try
        {
            model.DangerousAddRef(ref added);
            var vocab = ((delegate* unmanaged<nint, nint>)getVocab)(model.DangerousGetHandle());
            fixed (byte* g = grammarBytes, r = rootBytes)
            {
                var sampler = ((delegate* unmanaged<nint, byte*, byte*, nint>)init)(vocab, g, r);
                if (sampler == 0)
                {
                    return false;
                }

                ((delegate* unmanaged<nint, void>)free)(sampler);
                return true;
            }
        }
        finally
        {
            if (added)
            {
                model.DangerousRelease();
            }
        }
    }

    private static (nint, nint, nint) Resolve()
    {
        // The same library LLamaSharp's own P/Invokes use: loading through its assembly runs its resolver.
        var library = NativeLibrary.Load("llama", typeof(SafeLLamaSamplerChainHandle).Assembly, null);
        return (
            NativeLibrary.GetExport(library, "llama_model_get_vocab"),
            NativeLibrary.GetExport(library, "llama_sampler_init_grammar"),
            NativeLibrary.GetExport(library, "llama_sampler_free"));
    }
}
