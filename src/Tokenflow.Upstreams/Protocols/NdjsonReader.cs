using System.Buffers;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;

namespace Tokenflow.Upstreams.Protocols;

/// <summary>
/// Newline-delimited JSON framing (Ollama's streams): hands each line, without its <c>\n</c>, to an item parser
/// straight off one pooled buffer that grows for long lines; the last line may lack its newline.
/// </summary>
internal static class NdjsonReader
{
    /// <summary>Reads <paramref name="body"/> to its end, parsing each line with <paramref name="parse"/> (event type <c>message</c>) and yielding its result.</summary>
    public static async IAsyncEnumerable<T> EnumerateAsync<T>(Stream body, SseItemParser<T> parse, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int start = 0, end = 0;
            while (true)
            {
                var newline = buffer.AsSpan(start, end - start).IndexOf((byte)'\n');
                if (newline < 0)
                {
                    if (start > 0)
                    {
                        buffer.AsSpan(start, end - start).CopyTo(buffer);
                        end -= start;
                        start = 0;
                    }

                    if (end == buffer.Length)
                    {
                        var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, end).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }

                    var read = await body.ReadAsync(buffer.AsMemory(end), cancellationToken).ConfigureAwait(false);
                    if (read > 0)
                    {
                        end += read;
                        continue;
                    }

                    if (end == start)
                    {
                        yield break;
                    }

                    // The last line without a trailing newline.
                    newline = end - start;
                }

                var item = parse(SseParser.EventTypeDefault, buffer.AsSpan(start, newline));
                start = Math.Min(start + newline + 1, end);
                yield return item;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
