using System.Text;
using Tokenflow.Core.Streams;

namespace Tokenflow.Redis.Tests;

/// <summary>Retention "none" on the Redis store: the writer's log and Redis both release what every reader has passed.</summary>
public sealed class RedisRetentionTests
{
    private const int Deltas = 2000;

    [Fact]
    public async Task Retention_none_releases_passed_events_here_and_in_redis_and_a_resume_after_them_reads_the_rest_anywhere()
    {
        var redis = await RedisServer.Shared;
        await using var a = await TestNode.StartAsync(redis.Configuration);
        await using var b = await TestNode.StartAsync(redis.Configuration);
        var descriptor = new StreamDescriptor { Id = StreamIds.New("test-"), Model = "sim", Retention = StreamRetention.None };
        await using var writer = await a.CreateAsync(descriptor);
        await using (var reader = await a.OpenAsync(descriptor.Id))
        {
            // The reader here keeps up: after each slice it has read everything Redis acknowledged.
            var read = 0L;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            for (var i = 0; i < Deltas; i++)
            {
                Assert.True(writer.TryAppendDelta(Encoding.UTF8.GetBytes($"t{i} ")));
                if (i % 100 == 99)
                {
                    while (read < i + 1 && await reader.WaitToReadAsync(timeout.Token))
                    {
                        while (reader.TryRead(out var e))
                        {
                            read = e.Seq;
                        }
                    }
                }
            }

            writer.Complete(FinishReason.Stop, new Usage(1, Deltas), default);
            await writer.FlushAsync(CancellationToken.None);
        }

        // Neither process can replay the start any more (the writer's log released it, and so did Redis).
        foreach (var node in new[] { a, b })
        {
            var (status, reader) = await node.Store.OpenReaderAsync(descriptor.Id, 0, CancellationToken.None);
            Assert.Equal(StreamOpenStatus.Truncated, status);
            Assert.Null(reader);
        }

        // From a recent position both read the same end of the stream.
        var after = Deltas - 10;
        var expected = string.Concat(Enumerable.Range(Deltas - 10, 10).Select(i => $"t{i} "));
        foreach (var node in new[] { a, b })
        {
            await using var reader = await node.OpenAsync(descriptor.Id, after);
            var events = await ReadEvent.ReadAsync(reader);
            Assert.Equal(expected, string.Concat(events.Select(e => e.Text)));
            Assert.Equal(StreamEventKind.Done, events[^1].Kind);
        }
    }
}
