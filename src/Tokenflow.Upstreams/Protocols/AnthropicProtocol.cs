using System.Text.Json;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Streams;

namespace Tokenflow.Upstreams.Protocols;

/// <summary>
/// Anthropic's Messages API with <c>stream: true</c>: <c>message_start</c> (input usage),
/// <c>content_block_start</c> (text, <c>tool_use</c> with id and name, <c>thinking</c>),
/// <c>content_block_delta</c> (<c>text_delta</c>, <c>input_json_delta</c>, <c>thinking_delta</c>),
/// <c>message_delta</c> (stop reason, output usage), <c>message_stop</c>, <c>error</c>, <c>ping</c>.
/// </summary>
internal sealed class AnthropicProtocol : UpstreamProtocol
{
    /// <summary>Anthropic requires max_tokens; this is sent when the client set none.</summary>
    public const int DefaultMaxTokens = 4096;

    public override HttpRequestMessage CreateGenerateRequest(Uri baseUri, BackendRequest request, string modelId)
        => Post(Resolve(baseUri, "v1/messages"), w =>
        {
            w.WriteStartObject();
            w.WriteString("model"u8, modelId);
            w.WriteNumber("max_tokens"u8, request.MaxTokens > 0 ? request.MaxTokens : DefaultMaxTokens);
            w.WriteBoolean("stream"u8, true);
            var messages = request.Messages ?? [new ChatMessage("user", request.Prompt ?? string.Empty)];
            var system = string.Join("\n\n", messages.Where(m => m.Role is "system" or "developer").Select(m => m.Content));
            if (system.Length > 0)
            {
                w.WriteString("system"u8, system);
            }

            WriteMessages(w, messages);
            if (request.Temperature is { } t)
            {
                w.WriteNumber("temperature"u8, Math.Min(t, 1f));
            }

            if (request.TopP is { } p)
            {
                w.WriteNumber("top_p"u8, p);
            }

            WriteStrings(w, "stop_sequences"u8, request.Stop);

            WriteTools(w, request);
            w.WriteEndObject();
        });

    private static void WriteMessages(Utf8JsonWriter w, IReadOnlyList<ChatMessage> messages)
    {
        w.WriteStartArray("messages"u8);
        var openToolResults = false;
        foreach (var m in messages)
        {
            if (m.Role is "system" or "developer")
            {
                continue;
            }

            // Consecutive tool results go in one user message, as the Messages API wants turns to alternate.
            if (m.Role == "tool")
            {
                if (!openToolResults)
                {
                    w.WriteStartObject();
                    w.WriteString("role"u8, "user"u8);
                    w.WriteStartArray("content"u8);
                    openToolResults = true;
                }

                w.WriteStartObject();
                w.WriteString("type"u8, "tool_result"u8);
                w.WriteString("tool_use_id"u8, m.ToolCallId ?? string.Empty);
                w.WriteString("content"u8, m.Content);
                w.WriteEndObject();
                continue;
            }

            if (openToolResults)
            {
                w.WriteEndArray();
                w.WriteEndObject();
                openToolResults = false;
            }

            w.WriteStartObject();
            w.WriteString("role"u8, m.Role == "assistant" ? "assistant"u8 : "user"u8);
            if (m.ToolCalls is { Count: > 0 } calls)
            {
                w.WriteStartArray("content"u8);
                if (m.Content.Length > 0)
                {
                    w.WriteStartObject();
                    w.WriteString("type"u8, "text"u8);
                    w.WriteString("text"u8, m.Content);
                    w.WriteEndObject();
                }

                foreach (var call in calls)
                {
                    w.WriteStartObject();
                    w.WriteString("type"u8, "tool_use"u8);
                    w.WriteString("id"u8, call.Id);
                    w.WriteString("name"u8, call.Name);
                    w.WritePropertyName("input"u8);
                    WriteArguments(w, call.Arguments);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }
            else
            {
                w.WriteString("content"u8, m.Content);
            }

            w.WriteEndObject();
        }

        if (openToolResults)
        {
            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static void WriteArguments(Utf8JsonWriter w, string arguments)
    {
        try
        {
            using var doc = JsonDocument.Parse(arguments.Length == 0 ? "{}" : arguments);
            if (doc.RootElement.ValueKind == JsonValueKind.Object)
            {
                doc.RootElement.WriteTo(w);
                return;
            }
        }
        catch (JsonException)
        {
        }

        w.WriteStartObject();
        w.WriteEndObject();
    }

    private static void WriteTools(Utf8JsonWriter w, BackendRequest request)
    {
        if (request.Tools is not { Count: > 0 } tools)
        {
            return;
        }

        w.WriteStartArray("tools"u8);
        foreach (var tool in tools)
        {
            w.WriteStartObject();
            w.WriteString("name"u8, tool.Name);
            if (tool.Description is { } description)
            {
                w.WriteString("description"u8, description);
            }

            w.WritePropertyName("input_schema"u8);
            WriteSchema(w, tool.Parameters);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        if (request.ToolChoice is { } choice || !request.ParallelToolCalls)
        {
            w.WriteStartObject("tool_choice"u8);
            switch (request.ToolChoice)
            {
                case { Mode: ToolChoiceMode.None }:
                    w.WriteString("type"u8, "none"u8);
                    break;
                case { Mode: ToolChoiceMode.Required }:
                    w.WriteString("type"u8, "any"u8);
                    break;
                case { Mode: ToolChoiceMode.Function, FunctionName: { } fn }:
                    w.WriteString("type"u8, "tool"u8);
                    w.WriteString("name"u8, fn);
                    break;
                default:
                    w.WriteString("type"u8, "auto"u8);
                    break;
            }

            if (!request.ParallelToolCalls && request.ToolChoice?.Mode != ToolChoiceMode.None)
            {
                w.WriteBoolean("disable_parallel_tool_use"u8, true);
            }

            w.WriteEndObject();
        }
    }

    protected override StreamParser CreateParser(BackendRequest request) => new EventParser(request, UpstreamName);

    public override HttpRequestMessage CreateModelListRequest(Uri baseUri) => new(HttpMethod.Get, new Uri(baseUri, "v1/models?limit=1000"));

    public override IReadOnlyList<string> ParseModelList(ReadOnlySpan<byte> body) => ModelList.Parse(body, "data"u8, "id"u8);

    private enum BlockKind : byte
    {
        Other,
        Text,
        Thinking,
        ToolUse,
    }

    private sealed class EventParser(BackendRequest request, string upstream) : StreamParser
    {
        private BlockKind[] _blocks = new BlockKind[4];
        private int[] _toolIndex = new int[4];
        private int _toolCalls;
        private int _inputTokens;

        protected override void ParseItem(string eventType, ReadOnlySpan<byte> data)
        {
            if (data.IsEmpty)
            {
                return;
            }

            var reader = new Utf8JsonReader(data);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new JsonException("A stream event is not a JSON object.");
            }

            // The data's own "type" says what the event is; it comes first in Anthropic's events, but
            // read the whole object in case it does not.
            var type = EventKind.Unknown;
            var index = -1;
            var content = default(Utf8JsonReader);
            var hasContent = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    type = reader.ValueTextEquals("content_block_delta"u8) ? EventKind.BlockDelta
                        : reader.ValueTextEquals("content_block_start"u8) ? EventKind.BlockStart
                        : reader.ValueTextEquals("message_delta"u8) ? EventKind.MessageDelta
                        : reader.ValueTextEquals("message_start"u8) ? EventKind.MessageStart
                        : reader.ValueTextEquals("message_stop"u8) ? EventKind.MessageStop
                        : reader.ValueTextEquals("error"u8) ? EventKind.Error
                        : EventKind.Unknown;
                }
                else if (reader.ValueTextEquals("index"u8))
                {
                    reader.Read();
                    index = ReadInt(ref reader) ?? -1;
                }
                else if (reader.ValueTextEquals("delta"u8) || reader.ValueTextEquals("content_block"u8) || reader.ValueTextEquals("message"u8))
                {
                    reader.Read();
                    content = reader;
                    hasContent = true;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("usage"u8))
                {
                    reader.Read();
                    ReadUsage(ref reader);
                }
                else if (reader.ValueTextEquals("error"u8))
                {
                    reader.Read();
                    throw UpstreamErrors.InStream(upstream, ProviderError.ReadError(ref reader));
                }
                else
                {
                    SkipValue(ref reader);
                }
            }

            switch (type)
            {
                case EventKind.BlockDelta when hasContent && index >= 0:
                    ReadDelta(ref content, index);
                    break;
                case EventKind.BlockStart when hasContent && index >= 0:
                    ReadBlockStart(ref content, index);
                    break;
                case EventKind.MessageDelta when hasContent:
                    ReadMessageDelta(ref content);
                    break;
                case EventKind.MessageStart when hasContent:
                    ReadMessageStart(ref content);
                    break;
                case EventKind.MessageStop:
                    Ended = true;
                    break;
                case EventKind.Error:
                    throw UpstreamErrors.InStream(upstream, ProviderError.Parse(data));
            }
        }

        private void ReadBlockStart(ref Utf8JsonReader reader, int index)
        {
            if (index >= _blocks.Length)
            {
                Array.Resize(ref _blocks, Math.Max(index + 1, _blocks.Length * 2));
                Array.Resize(ref _toolIndex, _blocks.Length);
            }

            var kind = BlockKind.Other;
            string? id = null, name = null;
            var text = default(Utf8JsonReader);
            var hasText = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    kind = reader.ValueTextEquals("text"u8) ? BlockKind.Text
                        : reader.ValueTextEquals("thinking"u8) ? BlockKind.Thinking
                        : reader.ValueTextEquals("tool_use"u8) || reader.ValueTextEquals("server_tool_use"u8) ? BlockKind.ToolUse
                        : BlockKind.Other;
                }
                else if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    id = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("name"u8))
                {
                    reader.Read();
                    name = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("text"u8) || reader.ValueTextEquals("thinking"u8))
                {
                    reader.Read();
                    text = reader;
                    hasText = reader.TokenType == JsonTokenType.String;
                    reader.Skip();
                }
                else
                {
                    SkipValue(ref reader);
                }
            }

            _blocks[index] = kind;
            switch (kind)
            {
                case BlockKind.ToolUse:
                    // The start's "input" is always {} in streaming; the arguments come as input_json_delta.
                    _toolIndex[index] = _toolCalls;
                    Batch.Add([], DeltaChannel.ToolCall, _toolCalls++, id ?? $"toolu_{index}", name ?? string.Empty);
                    break;
                case BlockKind.Text when hasText:
                    Batch.AddString(ref text, DeltaChannel.Content);
                    break;
                case BlockKind.Thinking when hasText:
                    Batch.AddString(ref text, DeltaChannel.Reasoning);
                    break;
            }
        }

        private void ReadDelta(ref Utf8JsonReader reader, int index)
        {
            var toolIndex = index < _blocks.Length && _blocks[index] == BlockKind.ToolUse ? _toolIndex[index] : -1;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("text"u8))
                {
                    reader.Read();
                    Batch.AddString(ref reader, DeltaChannel.Content);
                }
                else if (reader.ValueTextEquals("thinking"u8))
                {
                    reader.Read();
                    Batch.AddString(ref reader, DeltaChannel.Reasoning);
                }
                else if (reader.ValueTextEquals("partial_json"u8) && toolIndex >= 0)
                {
                    reader.Read();
                    Batch.AddString(ref reader, DeltaChannel.ToolCall, toolIndex);
                }
                else
                {
                    // "type" (text_delta, …) and what Tokenflow does not carry (signature_delta, citations).
                    SkipValue(ref reader);
                }
            }
        }

        private void ReadMessageStart(ref Utf8JsonReader reader)
        {
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("usage"u8))
                {
                    reader.Read();
                    ReadUsage(ref reader);
                }
                else
                {
                    SkipValue(ref reader);
                }
            }
        }

        private void ReadMessageDelta(ref Utf8JsonReader reader)
        {
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("stop_reason"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        request.FinishReason = ParseFinish(reader.ValueSpan);
                    }
                }
                else
                {
                    SkipValue(ref reader);
                }
            }
        }

        private void ReadUsage(ref Utf8JsonReader reader)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                return;
            }

            int? input = null, cacheCreation = null, cacheRead = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("input_tokens"u8))
                {
                    reader.Read();
                    input = ReadInt(ref reader);
                }
                else if (reader.ValueTextEquals("cache_creation_input_tokens"u8))
                {
                    reader.Read();
                    cacheCreation = ReadInt(ref reader);
                }
                else if (reader.ValueTextEquals("cache_read_input_tokens"u8))
                {
                    reader.Read();
                    cacheRead = ReadInt(ref reader);
                }
                else if (reader.ValueTextEquals("output_tokens"u8))
                {
                    // Cumulative: message_start's count (1 or so) is replaced by message_delta's total.
                    reader.Read();
                    request.CompletionTokens = ReadInt(ref reader) ?? request.CompletionTokens;
                }
                else
                {
                    SkipValue(ref reader);
                }
            }

            if (input is not null || cacheCreation is not null || cacheRead is not null)
            {
                _inputTokens = (input ?? 0) + (cacheCreation ?? 0) + (cacheRead ?? 0);
                request.PromptTokens = _inputTokens;
            }
        }


        private enum EventKind : byte
        {
            Unknown,
            MessageStart,
            BlockStart,
            BlockDelta,
            MessageDelta,
            MessageStop,
            Error,
        }
    }
}
