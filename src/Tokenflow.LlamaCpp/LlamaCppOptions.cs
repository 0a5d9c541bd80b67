using System.ComponentModel.DataAnnotations;

namespace Tokenflow.LlamaCpp;

/// <summary>
/// Settings of one local GGUF model run by <see cref="LlamaCppBackend"/>, bound from the configuration
/// section <see cref="SectionName"/> and validated at start-up.
/// </summary>
public sealed class LlamaCppOptions : IValidatableObject
{
    /// <summary>The configuration section the options are bound from: <c>Tokenflow:LlamaCpp</c>.</summary>
    public const string SectionName = "Tokenflow:LlamaCpp";

    /// <summary>The context window used when <see cref="ContextSize"/> is 0 and the model was trained on a longer one.</summary>
    public const int DefaultContextCap = 4096;

    /// <summary>Models with fewer parameters than this get one thread and 16 sequences when <see cref="Threads"/> and <see cref="MaxConcurrentSequences"/> are 0 (auto).</summary>
    public const ulong SingleThreadParameterLimit = 100_000_000;

    /// <summary>
    /// CPU threads llama.cpp computes with, for prompt processing and generation alike. Default 0 (auto):
    /// one thread for a model under 100M parameters, else one core less than the processor has (a core is left
    /// for Kestrel and the clients), at least 1 and at most 4. Measured on 2 cores with a random-weight
    /// SmolLM2-135M Q8_0 (100 tokens, AVX2 build): one thread 125 / 90 tokens/s at 1 / 4 concurrent requests,
    /// two threads 41 / 57, since the server's own threads and the spinning-free (OMP_WAIT_POLICY=PASSIVE)
    /// llama.cpp threads take turns on the same cores. And tokenflow-tiny (2.6M parameters; greedy, 200
    /// tokens, client on the same machine, AVX2 build) streams ~4,700 tokens/s on one thread and ~710 on
    /// two, since thread synchronisation costs more than a step of so small a model computes (llama-server,
    /// measured 2026-12-01 with its own build, the same: -t 1 ~1,200, -t 2 ~200). A value above 0 is used as given.
    /// </summary>
    [Range(0, 1024)]
    public int Threads { get; set; }

    /// <summary>
    /// The context window of each request in tokens: prompt plus generated text. Each of the
    /// <see cref="MaxConcurrentSequences"/> sequences gets its own window of this size. Default 0: the
    /// model's trained context, capped at <see cref="DefaultContextCap"/>.
    /// </summary>
    [Range(0, 1 << 20)]
    public int ContextSize { get; set; }

    /// <summary>
    /// The most tokens one llama.cpp decode step processes: one token of every generating sequence plus
    /// chunks of the prompts being read (the generating sequences' tokens go in first, so a long prompt delays
    /// them by at most one chunk). Larger batches read long prompts faster; smaller ones keep the
    /// other sequences' next token coming sooner. Default 512; at least <see cref="MaxConcurrentSequences"/>.
    /// </summary>
    [Range(1, 1 << 16)]
    public int BatchSize { get; set; } = 512;

    /// <summary>
    /// How many requests generate together in the shared context (one llama.cpp sequence each, with its
    /// own window of KV cells); further requests wait, first come first served. Default 0 (auto): 16 for a
    /// model under 100M parameters, whose KV cells cost little (so that 8 or 16 concurrent requests get
    /// their first token at once instead of queueing behind 200-token answers), else 4.
    /// </summary>
    [Range(0, 256)]
    public int MaxConcurrentSequences { get; set; }

    /// <summary>
    /// Which of LLamaSharp's CPU builds of llama.cpp the process loads: <c>auto</c>, <c>avx512</c>,
    /// <c>avx2</c>, <c>avx</c> or <c>none</c>. Default auto: the AVX2 build when the processor has AVX2
    /// (else LLamaSharp's own choice, the best the processor runs). Measured on 2 cores with AVX-512
    /// (tokenflow-tiny, one thread, decode steps timed alone): LLamaSharp 0.30's AVX-512 build takes
    /// 0.54 ms for a step of one sequence and 2.25 ms for four, its AVX2 build 0.21 and 0.90, so auto
    /// does not pick AVX-512. A named build is loaded as given; one the processor cannot run is refused at start-up.
    /// Process-wide: the first model to load decides.
    /// </summary>
    [RegularExpression("(?i)^(auto|avx512|avx2|avx|none)$", ErrorMessage = "CpuBuild must be auto, avx512, avx2, avx or none.")]
    public string CpuBuild { get; set; } = "auto";

    /// <summary>Sampling temperature for requests that give none (0 = greedy). Default 0.8, as llama.cpp.</summary>
    [Range(0.0, 2.0)]
    public float DefaultTemperature { get; set; } = 0.8f;

    /// <summary>Nucleus sampling mass for requests that give none (1 = off). Default 0.95, as llama.cpp.</summary>
    [Range(0.0, 1.0)]
    public float DefaultTopP { get; set; } = 0.95f;

    /// <summary>
    /// Tokens the start-up warm-up generates after loading, so that the first request does not pay for
    /// llama.cpp's slow first decode. 0 skips the warm-up. Default 4.
    /// </summary>
    [Range(0, 256)]
    public int WarmupTokens { get; set; } = 4;

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MaxConcurrentSequences > 0 && BatchSize < MaxConcurrentSequences)
        {
            yield return new ValidationResult(
                $"{nameof(BatchSize)} ({BatchSize}) must be at least {nameof(MaxConcurrentSequences)} ({MaxConcurrentSequences}), so that every sequence fits in one decode step.",
                [nameof(BatchSize), nameof(MaxConcurrentSequences)]);
        }

        if (ContextSize is > 0 and < 8)
        {
            yield return new ValidationResult($"{nameof(ContextSize)} must be 0 (the model's own) or at least 8 tokens.", [nameof(ContextSize)]);
        }

        var missing = MissingInstructions(CpuBuild, System.Runtime.Intrinsics.X86.Avx512F.IsSupported, System.Runtime.Intrinsics.X86.Avx2.IsSupported, System.Runtime.Intrinsics.X86.Avx.IsSupported);
        if (missing is not null)
        {
            yield return new ValidationResult(
                $"{nameof(CpuBuild)} is {CpuBuild}, but this processor has no {missing}: its build would stop the process on an illegal instruction. Use auto (or a build the processor supports).",
                [nameof(CpuBuild)]);
        }
    }

    /// <summary>
    /// The instruction set the build <paramref name="cpuBuild"/> resolves to (<see cref="ResolveCpuBuild"/>) needs and the
    /// processor lacks (<c>AVX-512</c>, <c>AVX2</c>, <c>AVX</c>), or null when it runs here (<c>auto</c> and <c>none</c> always do).
    /// </summary>
    internal static string? MissingInstructions(string cpuBuild, bool avx512, bool avx2, bool avx) => ResolveCpuBuild(cpuBuild, avx2) switch
    {
        LLama.Native.AvxLevel.Avx512 when !avx512 => "AVX-512",
        LLama.Native.AvxLevel.Avx2 when !avx2 => "AVX2",
        LLama.Native.AvxLevel.Avx when !avx => "AVX",
        _ => null,
    };

    /// <summary>Throws <see cref="ArgumentException"/> listing every invalid setting.</summary>
    internal void ThrowIfInvalid()
    {
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(this, new ValidationContext(this), results, validateAllProperties: true))
        {
            throw new ArgumentException("Invalid LlamaCppOptions: " + string.Join(" ", results.Select(r => r.ErrorMessage)));
        }
    }

    internal LlamaCppOptions Clone() => (LlamaCppOptions)MemberwiseClone();

    /// <summary>The sequence count for a model of <paramref name="parameters"/> parameters: <paramref name="configured"/> when above 0, else the rule of <see cref="MaxConcurrentSequences"/>, at most <paramref name="batchSize"/>.</summary>
    internal static int ResolveSequences(int configured, ulong parameters, int batchSize)
    {
        if (configured > 0)
        {
            return configured;
        }

        return Math.Min(parameters < SingleThreadParameterLimit ? 16 : 4, batchSize);
    }

    /// <summary>
    /// The native build for <paramref name="configured"/> (<see cref="CpuBuild"/>): the named one, or for
    /// <c>auto</c> AVX2 when <paramref name="avx2Supported"/>, else null (LLamaSharp picks).
    /// </summary>
    internal static LLama.Native.AvxLevel? ResolveCpuBuild(string configured, bool avx2Supported) => configured.ToLowerInvariant() switch
    {
        "avx512" => LLama.Native.AvxLevel.Avx512,
        "avx2" => LLama.Native.AvxLevel.Avx2,
        "avx" => LLama.Native.AvxLevel.Avx,
        "none" => LLama.Native.AvxLevel.None,
        _ => avx2Supported ? LLama.Native.AvxLevel.Avx2 : null,
    };

    /// <summary>The thread count for a model of <paramref name="parameters"/> parameters: <paramref name="configured"/> when above 0, else the rule of <see cref="Threads"/>.</summary>
    internal static int ResolveThreads(int configured, ulong parameters, int processorCount)
    {
        if (configured > 0)
        {
            return configured;
        }

        return parameters < SingleThreadParameterLimit ? 1 : Math.Clamp(processorCount - 1, 1, 4);
    }
}
