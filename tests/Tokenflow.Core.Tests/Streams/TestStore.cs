using Microsoft.Extensions.Options;
using Tokenflow.Core.Streams;

namespace Tokenflow.Core.Tests.Streams;

/// <summary>Builds memory stores and streams for tests.</summary>
internal static class TestStore
{
    public static MemoryStreamStore Create(TimeProvider timeProvider, Action<StreamStoreOptions>? configure = null)
    {
        var options = new StreamStoreOptions();
        configure?.Invoke(options);
        return new MemoryStreamStore(Options.Create(options), timeProvider);
    }

    public static StreamDescriptor Descriptor(string? id = null, bool background = false, TimeSpan? resumeGrace = null) => new()
    {
        Id = id ?? StreamIds.New("test-"),
        Model = "sim",
        Created = 1_700_000_000,
        Background = background,
        ResumeGrace = resumeGrace,
    };

    public static async Task<IStreamWriter> CreateStreamAsync(IStreamStore store, StreamDescriptor? descriptor = null)
    {
        var (status, writer) = await store.CreateAsync(descriptor ?? Descriptor(), CancellationToken.None);
        Assert.Equal(StreamCreateStatus.Created, status);
        Assert.NotNull(writer);
        return writer;
    }

    public static async Task<IStreamReader> OpenAsync(IStreamStore store, string streamId, long afterSeq = 0)
    {
        var (status, reader) = await store.OpenReaderAsync(streamId, afterSeq, CancellationToken.None);
        Assert.Equal(StreamOpenStatus.Opened, status);
        Assert.NotNull(reader);
        return reader;
    }

    public static void AppendText(IStreamWriter writer, string text)
        => Assert.True(writer.TryAppendDelta(System.Text.Encoding.UTF8.GetBytes(text)), $"append of \"{text}\" was refused");
}
