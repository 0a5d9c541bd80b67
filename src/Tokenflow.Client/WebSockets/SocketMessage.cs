using System.Text.Json;

namespace Tokenflow.Client;

/// <summary>One server → client WebSocket frame: <c>started</c>, <c>event</c>, <c>done</c> or <c>error</c>, parsed without a DOM.</summary>
internal sealed class SocketMessage
{
    public SocketMessageKind Kind { get; private init; }

    /// <summary>The client tag (<c>id</c>) of a <c>started</c> frame or of an error about a <c>generate</c>.</summary>
    public string? Tag { get; private init; }

    public string? StreamId { get; private init; }

    public long Seq { get; private init; }

    public ChatChunk Chunk { get; private init; }

    public TokenflowException? Error { get; private init; }

    /// <summary>The routing key: the client tag until a stream exists, then the stream id.</summary>
    public string? Key => Kind == SocketMessageKind.Started || (Kind == SocketMessageKind.Error && Tag is not null && StreamId is null) ? Tag : StreamId;

    public static SocketMessage Parse(ReadOnlySpan<byte> frame)
    {
        var reader = new Utf8JsonReader(frame);
        reader.Read();
        var kind = SocketMessageKind.Unknown;
        string? tag = null, streamId = null, status = null;
        long seq = 0;
        ChatChunk chunk = default;
        TokenflowException? error = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                kind = reader.ValueTextEquals("event"u8) ? SocketMessageKind.Event
                    : reader.ValueTextEquals("started"u8) ? SocketMessageKind.Started
                    : reader.ValueTextEquals("done"u8) ? SocketMessageKind.Done
                    : reader.ValueTextEquals("error"u8) ? SocketMessageKind.Error
                    : SocketMessageKind.Unknown;
            }
            else if (reader.ValueTextEquals("id"u8))
            {
                reader.Read();
                tag = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (reader.ValueTextEquals("stream_id"u8))
            {
                reader.Read();
                streamId = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (reader.ValueTextEquals("seq"u8))
            {
                reader.Read();
                seq = reader.GetInt64();
            }
            else if (reader.ValueTextEquals("status"u8))
            {
                reader.Read();
                status = reader.GetString();
            }
            else if (reader.ValueTextEquals("data"u8))
            {
                reader.Read();
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                chunk = ChatChunk.Parse(frame[start..(int)reader.BytesConsumed]);
            }
            else if (reader.ValueTextEquals("error"u8))
            {
                reader.Read();
                string? message = null, type = null, code = null, param = null;
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    ErrorJson.ReadInner(ref reader, ref message, ref type, ref code, ref param);
                }
                else
                {
                    reader.Skip();
                }

                error = new TokenflowException(message ?? "The server reported an error.") { ErrorType = type, Code = code, Param = param };
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return new SocketMessage { Kind = kind, Tag = tag, StreamId = streamId, Seq = seq, Chunk = chunk, Error = error, Status = status };
    }

    /// <summary>The final status of a <c>done</c> frame.</summary>
    public string? Status { get; private init; }
}

/// <summary>The kinds of <see cref="SocketMessage"/>.</summary>
internal enum SocketMessageKind
{
    Unknown,
    Started,
    Event,
    Done,
    Error,
}
