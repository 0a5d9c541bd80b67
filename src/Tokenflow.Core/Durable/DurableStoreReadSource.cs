using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace Tokenflow.Core.Durable;

/// <summary>
/// A client-created stream of an <see cref="IDurableStreamStore"/> as an <see cref="IDurableReadSource"/>: reads and
/// waits go to the store; each read's chunks are copied once into the caller's body buffer.
/// </summary>
public sealed class DurableStoreReadSource : IDurableReadSource
{
    private readonly IDurableStreamStore _store;
    private readonly string _path;
    private readonly string? _owner;
    private long _key = -1;
    private string _keyText = string.Empty;

    /// <summary>A view of the stream at <paramref name="path"/> as <paramref name="owner"/> sees it (another owner's stream is not found).</summary>
    public DurableStoreReadSource(IDurableStreamStore store, string path, string? owner)
    {
        _store = store;
        _path = path;
        _owner = owner;
    }

    /// <inheritdoc />
    public bool Cacheable => true;

    /// <inheritdoc />
    public ValueTask<DurableStreamResult> GetInfoAsync(CancellationToken cancellationToken) => _store.GetInfoAsync(_path, _owner, cancellationToken);

    /// <inheritdoc />
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<DurableReadBatch> ReadAsync(long? position, IBufferWriter<byte> body, CancellationToken cancellationToken)
    {
        var read = await _store.ReadAsync(_path, _owner, position, cancellationToken).ConfigureAwait(false);
        if (read.Outcome != DurableOutcome.Ok)
        {
            return new DurableReadBatch(read.Outcome) { Message = read.Message };
        }

        Write(body, read.Chunks, read.IsJson);
        if (read.StreamKey != _key)
        {
            _key = read.StreamKey;
            _keyText = read.StreamKey.ToString(CultureInfo.InvariantCulture);
        }

        return new DurableReadBatch(DurableOutcome.Ok)
        {
            StreamKey = _keyText,
            ContentType = read.ContentType,
            IsJson = read.IsJson,
            Start = read.Start,
            Next = read.Next,
            Count = read.Chunks.Count,
            UpToDate = read.UpToDate,
            Closed = read.Closed,
        };
    }

    /// <inheritdoc />
    public ValueTask<bool> WaitAsync(long position, CancellationToken cancellationToken) => _store.WaitAsync(_path, position, cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>Copies the chunks into one span of the body: a JSON array of the messages, or the bytes end to end.</summary>
    private static void Write(IBufferWriter<byte> body, IReadOnlyList<ReadOnlyMemory<byte>> chunks, bool isJson)
    {
        var length = isJson ? 2 + Math.Max(0, chunks.Count - 1) : 0;
        foreach (var chunk in chunks)
        {
            length += chunk.Length;
        }

        if (length == 0)
        {
            return;
        }

        var span = body.GetSpan(length);
        var at = 0;
        if (isJson)
        {
            span[at++] = (byte)'[';
        }

        for (var i = 0; i < chunks.Count; i++)
        {
            if (isJson && i > 0)
            {
                span[at++] = (byte)',';
            }

            chunks[i].Span.CopyTo(span[at..]);
            at += chunks[i].Length;
        }

        if (isJson)
        {
            span[at++] = (byte)']';
        }

        body.Advance(at);
    }
}
