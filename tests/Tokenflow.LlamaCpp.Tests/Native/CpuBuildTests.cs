using System.Runtime.Intrinsics.X86;
using Tokenflow.LlamaCpp.Tests.Grammar;

namespace Tokenflow.LlamaCpp.Tests.Native;

/// <summary>Which native build the process loaded, read from the kernel's map of the process (the grammar fixture loads the weights).</summary>
public sealed class CpuBuildTests(GrammarModelFixture model) : IClassFixture<GrammarModelFixture>
{
    [Fact]
    public void The_default_loads_the_avx2_build_on_an_avx2_processor_and_never_avx512()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // reads /proc/self/maps
        }

        Assert.True(model.Parses("root ::= \"a\""), "the model did not load");

        var loaded = File.ReadAllLines("/proc/self/maps")
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "")
            .Where(path => path.EndsWith("/libggml-cpu.so", StringComparison.Ordinal))
            .Distinct()
            .ToList();

        var path = Assert.Single(loaded);
        if (Avx2.IsSupported)
        {
            Assert.EndsWith("/native/avx2/libggml-cpu.so", path, StringComparison.Ordinal);
        }
        else
        {
            Assert.DoesNotContain("/native/avx512/", path, StringComparison.Ordinal);
        }
    }
}
