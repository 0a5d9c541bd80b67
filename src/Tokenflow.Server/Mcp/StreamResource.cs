using System.ComponentModel;
using ModelContextProtocol;
using ModelContextProtocol.Server;

namespace Tokenflow.Server.Mcp;

/// <summary>
/// The resource template <c>tokenflow://streams/{stream_id}</c>: the text a stream has generated so
/// far, read without waiting (it grows until the generation ends).
/// </summary>
[McpServerResourceType]
internal sealed class StreamResource
{
    /// <summary>The URI template.</summary>
    public const string UriTemplate = "tokenflow://streams/{stream_id}";

    private readonly StreamAccess _streams;

    public StreamResource(StreamAccess streams) => _streams = streams;

    /// <summary>The resource URI of a stream.</summary>
    public static string UriOf(string streamId) => $"tokenflow://streams/{Uri.EscapeDataString(streamId)}";

    [McpServerResource(UriTemplate = UriTemplate, Name = "stream", Title = "Stream text", MimeType = "text/plain")]
    [Description("The text a Tokenflow stream has generated so far; it grows until the generation ends. Stream ids come from start_generation or generate.")]
    public async Task<string> ReadAsync(string stream_id, CancellationToken cancellationToken)
    {
        if (await _streams.FindAsync(stream_id, cancellationToken) is null)
        {
            throw new McpProtocolException(StreamAccess.NotFound(stream_id), McpErrorCode.ResourceNotFound);
        }

        var status = await _streams.Store.GetStatusAsync(stream_id, cancellationToken);
        var (_, reader) = await _streams.Store.OpenReaderAsync(stream_id, 0, cancellationToken);
        if (reader is null)
        {
            throw new McpProtocolException(StreamAccess.NotFound(stream_id), McpErrorCode.ResourceNotFound);
        }

        await using (reader)
        {
            var tail = new StreamTail(0);
            await tail.DrainStoredAsync(reader, status?.LastSeq ?? 0, cancellationToken);
            return tail.Text;
        }
    }
}
