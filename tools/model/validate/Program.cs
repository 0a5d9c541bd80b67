// Validates a tokenflow-tiny GGUF against the PyTorch reference written by tokenflow_tiny.py:
//  (a) llama.cpp's tokenization of ref_text.txt == the Python tokenizer's ids (ref_text_ids.txt)
//  (b) next-token logits for the prompts in ref_logits.json agree with PyTorch's
//  (c) a few sampled continuations through LLamaSharp (for the model card)
// Usage: dotnet run -c Release -- MODEL.gguf REF_DIR [--samples]
// Run with OMP_WAIT_POLICY=PASSIVE.
using System.Globalization;
using System.Text;
using System.Text.Json;
using LLama;
using LLama.Common;
using LLama.Native;
using LLama.Sampling;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: Validate MODEL.gguf REF_DIR [--samples]");
    return 2;
}

string gguf = args[0], refDir = args[1];
bool samples = args.Contains("--samples");
NativeLogConfig.llama_log_set((level, message) =>
{
    if (level is LLamaLogLevel.Error or LLamaLogLevel.Warning)
    {
        Console.Error.Write(message);
    }
});

var mp = new ModelParams(gguf) { ContextSize = 512, GpuLayerCount = 0, Threads = 2, BatchSize = 512 };
using var weights = LLamaWeights.LoadFromFile(mp);
Console.WriteLine($"loaded {Path.GetFileName(gguf)}: vocab {weights.Vocab.Count}, ctx_train {weights.ContextSize}, " +
                  $"embd {weights.EmbeddingSize}, params {weights.ParameterCount}, BOS {weights.Vocab.BOS}, EOS {weights.Vocab.EOS}");
int failures = 0;

// (a) tokenization
string text = File.ReadAllText(Path.Combine(refDir, "ref_text.txt"));
int[] expected = File.ReadAllText(Path.Combine(refDir, "ref_text_ids.txt"))
    .Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
int[] got = weights.Tokenize(text, true, false, Encoding.UTF8).Select(t => (int)t).ToArray();
int firstDiff = Enumerable.Range(0, Math.Min(expected.Length, got.Length)).FirstOrDefault(i => expected[i] != got[i], -1);
bool tokOk = got.Length == expected.Length && firstDiff < 0;
Console.WriteLine($"tokenization: {text.Length} chars, python {expected.Length} tokens, llama.cpp {got.Length} tokens: " +
                  (tokOk ? "IDENTICAL" : $"MISMATCH (first difference at {firstDiff})"));
if (!tokOk)
{
    failures++;
}

// round trip through llama.cpp's detokenizer (minus the BOS and the space prefix it adds)
var decoder = new StreamingTokenDecoder(Encoding.UTF8, weights);
decoder.AddRange(got.Skip(1).Select(i => (LLamaToken)i));
string back = decoder.Read();
bool rtOk = back == text || back == " " + text;
Console.WriteLine($"detokenize round trip: {(rtOk ? "OK" : "DIFFERENT")}{(back.StartsWith(' ') ? " (with leading space)" : "")}");

// (b) logits
using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(refDir, "ref_logits.json"))))
{
    double worst = 0;
    foreach (var p in doc.RootElement.EnumerateArray())
    {
        string prompt = p.GetProperty("prompt").GetString()!;
        int[] refIds = p.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        float[] refLogits = p.GetProperty("logits").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        using var ctx = weights.CreateContext(mp);
        LLamaToken[] ids = ctx.Tokenize(prompt, true, false);
        bool idsOk = ids.Select(t => (int)t).SequenceEqual(refIds);
        var batch = new LLamaBatch();
        for (int i = 0; i < ids.Length; i++)
        {
            batch.Add(ids[i], i, LLamaSeqId.Zero, i == ids.Length - 1);
        }
        var rc = ctx.Decode(batch);
        if (rc != DecodeResult.Ok)
        {
            throw new InvalidOperationException($"decode failed: {rc}");
        }
        Span<float> logits = ctx.NativeHandle.GetLogitsIth(batch.TokenCount - 1);
        double maxDiff = 0;
        int argRef = 0, argGot = 0;
        for (int i = 0; i < refLogits.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(logits[i] - refLogits[i]));
            if (refLogits[i] > refLogits[argRef])
            {
                argRef = i;
            }
            if (logits[i] > logits[argGot])
            {
                argGot = i;
            }
        }
        worst = Math.Max(worst, maxDiff);
        Console.WriteLine($"logits {JsonSerializer.Serialize(prompt)}: {ids.Length} tokens (ids {(idsOk ? "match" : "DIFFER")}), " +
                          $"max |diff| {maxDiff:E2}, argmax python {argRef} / llama.cpp {argGot} " +
                          $"({JsonSerializer.Serialize(weights.Vocab.LLamaTokenToString((LLamaToken)argGot, true))})");
        if (!idsOk || argRef != argGot)
        {
            failures++;
        }
    }
    Console.WriteLine($"logits: worst max |diff| over prompts {worst:E2} ({(worst < 1e-2 ? "OK" : "TOO LARGE")})");
    if (worst >= 1e-2)
    {
        failures++;
    }
}

// (c) samples
if (samples)
{
    var executor = new StatelessExecutor(weights, mp);
    foreach (var (prompt, seed) in new[] { ("In the beginning", 1u), ("And Jesus said unto them,", 2u), ("The LORD is my shepherd", 3u) })
    {
        var ip = new InferenceParams
        {
            MaxTokens = 80,
            SamplingPipeline = new DefaultSamplingPipeline { Temperature = 0.8f, TopK = 40, TopP = 0.95f, MinP = 0.05f, Seed = seed },
        };
        var sb = new StringBuilder();
        await foreach (string piece in executor.InferAsync(prompt, ip))
        {
            sb.Append(piece);
        }
        Console.WriteLine($"--- sample (prompt {JsonSerializer.Serialize(prompt)}, seed {seed}, temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, max 80 tokens)");
        Console.WriteLine(prompt + sb.ToString());
    }
}

Console.WriteLine(failures == 0 ? "VALIDATION PASSED" : $"VALIDATION FAILED ({failures} problems)");
return failures == 0 ? 0 : 1;
