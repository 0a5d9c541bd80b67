using System.Globalization;
using BenchmarkDotNet.Running;

if (args is ["retention", ..])
{
    await Tokenflow.Benchmarks.RetentionFootprint.RunAsync(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100_000);
    return;
}

if (args is ["gateway", ..])
{
    await Tokenflow.Benchmarks.GatewayLatency.RunAsync(
        args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 200,
        args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1000,
        [.. args.Skip(3).Where(a => a.Contains('=', StringComparison.Ordinal))]);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Tokenflow.Benchmarks.HotPathBenchmarks).Assembly).Run(args);
