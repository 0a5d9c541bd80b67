using System.Globalization;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Streams;

namespace Tokenflow.Benchmarks;

/// <summary>
/// What the store holds for one long generation with one reader that keeps up, under each
/// retention policy: the bytes charged to the store's budget and the bytes of record blocks and
/// text segments the log really holds, both at their peak and at the end.
/// Run: <c>dotnet run -c Release --project bench/Tokenflow.Benchmarks -- retention [tokens]</c>.
/// </summary>
internal static class RetentionFootprint
{
    public static async Task RunAsync(int tokens)
    {
        Console.WriteLine($"One generation of {tokens:N0} tokens (\" tok\", 4 B each), one reader reading after every append");
        Console.WriteLine();
        Console.WriteLine("| retention | peak charged | peak held | held at the end |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (var retention in new[] { StreamRetention.Ttl, StreamRetention.None })
        {
            using var store = new MemoryStreamStore(Options.Create(new StreamStoreOptions { MaxBytes = 1L << 40, MaxEventsPerStream = int.MaxValue }), TimeProvider.System);
            var (_, writer) = await store.CreateAsync(new StreamDescriptor { Id = StreamIds.New("bench-"), Model = "sim", Retention = retention }, default);
            var log = (StreamLog)writer!;
            var (_, reader) = await store.OpenReaderAsync(log.StreamId, 0, default);
            long peakCharged = 0, peakHeld = 0;
            for (var i = 0; i < tokens; i++)
            {
                log.TryAppendDelta(" tok"u8);
                while (reader!.TryRead(out _))
                {
                }

                peakCharged = Math.Max(peakCharged, store.BytesInUse);
                if ((i & 255) == 0)
                {
                    peakHeld = Math.Max(peakHeld, log.HeldBytes);
                }
            }

            log.Complete(FinishReason.Stop, new Usage(1, tokens), default);
            while (reader!.TryRead(out _))
            {
            }

            await reader.DisposeAsync();
            peakHeld = Math.Max(peakHeld, log.HeldBytes);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {retention.ToString().ToLowerInvariant()} | {Kib(peakCharged)} | {Kib(peakHeld)} | {Kib(log.HeldBytes)} |"));
        }
    }

    private static string Kib(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:N1} KiB");
}
