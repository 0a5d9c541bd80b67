using LLama.Native;

namespace Tokenflow.LlamaCpp.Tests;

public sealed class LlamaCppOptionsTests
{
    [Theory]
    [InlineData(0, 2_600_000UL, 2, 1)]
    [InlineData(0, 2_600_000UL, 64, 1)]
    [InlineData(0, 135_000_000UL, 2, 1)]
    [InlineData(0, 135_000_000UL, 3, 2)]
    [InlineData(0, 135_000_000UL, 1, 1)]
    [InlineData(0, 500_000_000UL, 16, 4)]
    [InlineData(3, 2_600_000UL, 2, 3)]
    public void Auto_threads_give_a_tiny_model_one_thread_and_larger_ones_a_core_less_than_the_machine_up_to_four(int configured, ulong parameters, int cores, int expected)
        => Assert.Equal(expected, LlamaCppOptions.ResolveThreads(configured, parameters, cores));

    [Theory]
    [InlineData(0, 2_600_000UL, 512, 16)]
    [InlineData(0, 2_600_000UL, 8, 8)]
    [InlineData(0, 135_000_000UL, 512, 4)]
    [InlineData(2, 2_600_000UL, 512, 2)]
    public void Auto_sequences_give_a_tiny_model_sixteen_and_larger_ones_four(int configured, ulong parameters, int batchSize, int expected)
        => Assert.Equal(expected, LlamaCppOptions.ResolveSequences(configured, parameters, batchSize));

    [Fact]
    public void Defaults_are_auto()
    {
        var options = new LlamaCppOptions();

        Assert.Equal(0, options.Threads);
        Assert.Equal(0, options.MaxConcurrentSequences);
        Assert.Equal("auto", options.CpuBuild);
        options.ThrowIfInvalid();
    }

    [Theory]
    [InlineData("auto", true, AvxLevel.Avx2)]
    [InlineData("AUTO", true, AvxLevel.Avx2)]
    [InlineData("avx512", true, AvxLevel.Avx512)]
    [InlineData("Avx2", false, AvxLevel.Avx2)]
    [InlineData("avx", true, AvxLevel.Avx)]
    [InlineData("none", true, AvxLevel.None)]
    public void Cpu_build_auto_is_avx2_where_supported_and_a_named_build_is_taken_as_given(string configured, bool avx2, AvxLevel expected)
        => Assert.Equal(expected, LlamaCppOptions.ResolveCpuBuild(configured, avx2));

    [Fact]
    public void Cpu_build_auto_without_avx2_leaves_the_choice_to_llamasharp()
        => Assert.Null(LlamaCppOptions.ResolveCpuBuild("auto", avx2Supported: false));

    [Fact]
    public void An_unknown_cpu_build_is_refused_naming_the_setting()
    {
        var error = Assert.Throws<ArgumentException>(() => new LlamaCppOptions { CpuBuild = "avx1024" }.ThrowIfInvalid());
        Assert.Contains("CpuBuild", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("avx512", false, true, true, "AVX-512")]
    [InlineData("AVX2", true, false, true, "AVX2")]
    [InlineData("avx", false, false, false, "AVX")]
    [InlineData("avx512", true, true, true, null)]
    [InlineData("avx2", false, true, true, null)]
    [InlineData("auto", false, false, false, null)]
    [InlineData("none", false, false, false, null)]
    public void A_named_cpu_build_the_processor_cannot_run_is_named_as_missing(string build, bool avx512, bool avx2, bool avx, string? missing)
        => Assert.Equal(missing, LlamaCppOptions.MissingInstructions(build, avx512, avx2, avx));

    [Fact]
    public void Start_up_validation_refuses_a_cpu_build_this_processor_lacks_and_accepts_one_it_has()
    {
        // This machine's own processor decides: a build it has passes, the first one it lacks is refused.
        var has = System.Runtime.Intrinsics.X86.Avx2.IsSupported ? "avx2" : "none";
        new LlamaCppOptions { CpuBuild = has }.ThrowIfInvalid();
        var lacks = !System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "avx512" : !System.Runtime.Intrinsics.X86.Avx2.IsSupported ? "avx2" : null;
        if (lacks is not null)
        {
            var error = Assert.Throws<ArgumentException>(() => new LlamaCppOptions { CpuBuild = lacks }.ThrowIfInvalid());
            Assert.Contains("illegal instruction", error.Message, StringComparison.Ordinal);
        }
        else
        {
            new LlamaCppOptions { CpuBuild = "avx512" }.ThrowIfInvalid();
        }
    }
}
