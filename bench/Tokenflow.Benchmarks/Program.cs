using System.Globalization;
using BenchmarkDotNet.Running;

if (args is ["retention", ..])
{
    await Tokenflow.Benchmarks.RetentionFootprint.RunAsync(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100_000);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Tokenflow.Benchmarks.HotPathBenchmarks).Assembly).Run(args);
