using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Tokenflow.Benchmarks.HotPathBenchmarks).Assembly).Run(args);
