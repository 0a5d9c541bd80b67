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
}
