using System.Text.Json;

namespace Tokenflow.Client;

/// <summary>
/// What the client reads from one event of an OpenAI chat (or text) completion stream: a chunk, the
/// <c>[DONE]</c> marker, an error, or something it cannot read (treated as a broken connection).
/// Parsed straight from the event's UTF-8 bytes with <see cref="Utf8JsonReader"/>.
/// </summary>
internal readonly struct ChatChunk
{
    public ChatChunkKind Kind { get; init; }

    public string? Id { get; init; }

    public string? Text { get; init; }

    public string? FinishReason { get; init; }

    public ChatUsage? Usage { get; init; }

    public string? Model { get; init; }

    public long? Created { get; init; }

    public TokenflowException? Error { get; init; }

    /// <summary>The SSE item parser: <c>event: error</c> becomes an error, <c>[DONE]</c> the end, anything else a chunk.</summary>
    public static ChatChunk ParseSse(string eventType, ReadOnlySpan<byte> data)
    {
        if (eventType == "error")
        {
            return new ChatChunk { Kind = ChatChunkKind.Error, Error = ErrorJson.Read(data, statusCode: null, fallback: "The stream failed.") };
        }

        return data.SequenceEqual("[DONE]"u8) ? new ChatChunk { Kind = ChatChunkKind.Done } : Parse(data);
    }

    /// <summary>Reads a <c>chat.completion.chunk</c> or <c>text_completion</c> chunk; malformed input gives <see cref="ChatChunkKind.Malformed"/>.</summary>
    public static ChatChunk Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            return ParseCore(json);
        }
        catch (JsonException)
        {
            // A cut connection can hand over a truncated event; the caller resumes from the last good seq.
            return new ChatChunk { Kind = ChatChunkKind.Malformed };
        }
        catch (InvalidOperationException)
        {
            return new ChatChunk { Kind = ChatChunkKind.Malformed };
        }
    }

    private static ChatChunk ParseCore(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return new ChatChunk { Kind = ChatChunkKind.Malformed };
        }

        string? id = null, model = null, text = null, finish = null;
        long? created = null;
        ChatUsage? usage = null;
        TimeSpan? ttft = null, tpot = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("id"u8))
            {
                reader.Read();
                id = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (reader.ValueTextEquals("model"u8))
            {
                reader.Read();
                model = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (reader.ValueTextEquals("created"u8))
            {
                reader.Read();
                created = reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var c) ? c : null;
            }
            else if (reader.ValueTextEquals("choices"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartArray)
                {
                    ReadChoices(ref reader, ref text, ref finish);
                }
                else
                {
                    reader.Skip();
                }
            }
            else if (reader.ValueTextEquals("usage"u8))
            {
                reader.Read();
                usage = reader.TokenType == JsonTokenType.StartObject ? ReadUsage(ref reader) : null;
                if (reader.TokenType != JsonTokenType.EndObject)
                {
                    reader.Skip();
                }
            }
            else if (reader.ValueTextEquals("timings"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    ReadTimings(ref reader, ref ttft, ref tpot);
                }
                else
                {
                    reader.Skip();
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (usage is not null && (ttft is not null || tpot is not null))
        {
            usage = usage with { TimeToFirstToken = ttft, TimePerOutputToken = tpot };
        }

        return new ChatChunk { Kind = ChatChunkKind.Chunk, Id = id, Model = model, Created = created, Text = text, FinishReason = finish, Usage = usage };
    }

    /// <summary>Reads the first choice's delta content (or <c>text</c>) and finish reason; other choices are skipped (n = 1).</summary>
    private static void ReadChoices(ref Utf8JsonReader reader, ref string? text, ref string? finish)
    {
        var index = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject || index++ > 0)
            {
                reader.Skip();
                continue;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("delta"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        reader.Skip();
                        continue;
                    }

                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var isContent = reader.ValueTextEquals("content"u8);
                        reader.Read();
                        if (isContent && reader.TokenType == JsonTokenType.String)
                        {
                            text = reader.GetString();
                        }
                        else
                        {
                            reader.Skip();
                        }
                    }
                }
                else if (reader.ValueTextEquals("text"u8))
                {
                    reader.Read();
                    text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("finish_reason"u8))
                {
                    reader.Read();
                    finish = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
    }

    private static ChatUsage ReadUsage(ref Utf8JsonReader reader)
    {
        int prompt = 0, completion = 0, total = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.ValueTextEquals("prompt_tokens"u8) ? 1 : reader.ValueTextEquals("completion_tokens"u8) ? 2 : reader.ValueTextEquals("total_tokens"u8) ? 3 : 0;
            reader.Read();
            if (name == 0 || reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var value))
            {
                reader.Skip();
                continue;
            }

            _ = name == 1 ? prompt = value : name == 2 ? completion = value : total = value;
        }

        return new ChatUsage { PromptTokens = prompt, CompletionTokens = completion, TotalTokens = total };
    }

    private static void ReadTimings(ref Utf8JsonReader reader, ref TimeSpan? ttft, ref TimeSpan? tpot)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isTtft = reader.ValueTextEquals("ttft_ms"u8);
            var isTpot = reader.ValueTextEquals("tpot_ms"u8);
            reader.Read();
            if (reader.TokenType == JsonTokenType.Number && (isTtft || isTpot))
            {
                var value = TimeSpan.FromMilliseconds(reader.GetDouble());
                _ = isTtft ? ttft = value : tpot = value;
            }
            else
            {
                reader.Skip();
            }
        }
    }
}

/// <summary>The kinds of <see cref="ChatChunk"/>.</summary>
internal enum ChatChunkKind
{
    Malformed,
    Chunk,
    Done,
    Error,
}
