using System.Net.ServerSentEvents;
using System.Text.Json;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Streams;

namespace Tokenflow.Upstreams.Protocols;

/// <summary>
/// OpenAI chat completions (and legacy completions) over SSE, as OpenAI, vLLM, llama-server, SGLang and
/// Tokenflow serve it: <c>chat.completion.chunk</c> events with <c>delta.content</c>, <c>delta.reasoning_content</c>
/// (or <c>reasoning</c>), <c>delta.refusal</c>, <c>delta.tool_calls</c> fragments, <c>finish_reason</c>, a last
/// usage chunk (asked for with <c>stream_options.include_usage</c>) and <c>data: [DONE]</c>.
/// </summary>
internal sealed class OpenAiProtocol : UpstreamProtocol
{
    private readonly bool _maxCompletionTokens;

    public OpenAiProtocol(Uri baseUri)
    {
        // OpenAI's own API rejects max_tokens for its reasoning models; most other servers know only max_tokens.
        _maxCompletionTokens = baseUri.Host.EndsWith("openai.com", StringComparison.OrdinalIgnoreCase);
    }

    public override HttpRequestMessage CreateGenerateRequest(Uri baseUri, BackendRequest request, string modelId)
    {
        var chat = request.Prompt is null;
        return Post(Resolve(baseUri, chat ? "chat/completions" : "completions"), w =>
        {
            w.WriteStartObject();
            w.WriteString("model"u8, modelId);
            if (chat)
            {
                WriteMessages(w, request.Messages ?? []);
            }
            else
            {
                w.WriteString("prompt"u8, request.Prompt);
            }

            w.WriteBoolean("stream"u8, true);
            w.WriteStartObject("stream_options"u8);
            w.WriteBoolean("include_usage"u8, true);
            w.WriteEndObject();
            if (request.MaxTokens > 0)
            {
                w.WriteNumber(_maxCompletionTokens && chat ? "max_completion_tokens"u8 : "max_tokens"u8, request.MaxTokens);
            }

            if (request.Temperature is { } t)
            {
                w.WriteNumber("temperature"u8, t);
            }

            if (request.TopP is { } p)
            {
                w.WriteNumber("top_p"u8, p);
            }

            if (request.Seed is { } seed)
            {
                w.WriteNumber("seed"u8, seed);
            }

            WriteStrings(w, "stop"u8, request.Stop);

            // Tokenflow's own extension fields reach a Tokenflow upstream; only sent when the client set them.
            if (request.SimTokensPerSecond > 0)
            {
                w.WriteNumber("sim_tokens_per_second"u8, request.SimTokensPerSecond);
            }

            if (request.SimTtftMs > 0)
            {
                w.WriteNumber("sim_ttft_ms"u8, request.SimTtftMs);
            }

            if (chat)
            {
                WriteTools(w, request);
                WriteResponseFormat(w, request.ResponseFormat);
            }

            w.WriteEndObject();
        });
    }

    private static void WriteMessages(Utf8JsonWriter w, IReadOnlyList<ChatMessage> messages)
    {
        w.WriteStartArray("messages"u8);
        foreach (var m in messages)
        {
            w.WriteStartObject();
            w.WriteString("role"u8, m.Role);
            if (m.ToolCalls is { Count: > 0 } && m.Content.Length == 0)
            {
                w.WriteNull("content"u8);
            }
            else
            {
                w.WriteString("content"u8, m.Content);
            }

            if (m.Name is { } name)
            {
                w.WriteString("name"u8, name);
            }

            if (m.ToolCallId is { } callId)
            {
                w.WriteString("tool_call_id"u8, callId);
            }

            if (m.ToolCalls is { Count: > 0 } calls)
            {
                w.WriteStartArray("tool_calls"u8);
                foreach (var call in calls)
                {
                    w.WriteStartObject();
                    w.WriteString("id"u8, call.Id);
                    w.WriteString("type"u8, "function"u8);
                    w.WriteStartObject("function"u8);
                    w.WriteString("name"u8, call.Name);
                    w.WriteString("arguments"u8, call.Arguments);
                    w.WriteEndObject();
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
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
            w.WriteString("type"u8, "function"u8);
            w.WriteStartObject("function"u8);
            w.WriteString("name"u8, tool.Name);
            if (tool.Description is { } description)
            {
                w.WriteString("description"u8, description);
            }

            w.WritePropertyName("parameters"u8);
            WriteSchema(w, tool.Parameters);
            if (tool.Strict)
            {
                w.WriteBoolean("strict"u8, true);
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        switch (request.ToolChoice)
        {
            case { Mode: ToolChoiceMode.None }:
                w.WriteString("tool_choice"u8, "none"u8);
                break;
            case { Mode: ToolChoiceMode.Required }:
                w.WriteString("tool_choice"u8, "required"u8);
                break;
            case { Mode: ToolChoiceMode.Function, FunctionName: { } fn }:
                w.WriteStartObject("tool_choice"u8);
                w.WriteString("type"u8, "function"u8);
                w.WriteStartObject("function"u8);
                w.WriteString("name"u8, fn);
                w.WriteEndObject();
                w.WriteEndObject();
                break;
        }

        if (!request.ParallelToolCalls)
        {
            w.WriteBoolean("parallel_tool_calls"u8, false);
        }
    }

    private static void WriteResponseFormat(Utf8JsonWriter w, ResponseFormat? format)
    {
        switch (format)
        {
            case { Kind: ResponseFormatKind.JsonObject }:
                w.WriteStartObject("response_format"u8);
                w.WriteString("type"u8, "json_object"u8);
                w.WriteEndObject();
                break;
            case { Kind: ResponseFormatKind.JsonSchema } schema:
                w.WriteStartObject("response_format"u8);
                w.WriteString("type"u8, "json_schema"u8);
                w.WriteStartObject("json_schema"u8);
                w.WriteString("name"u8, schema.Name ?? "response");
                w.WritePropertyName("schema"u8);
                WriteSchema(w, schema.Schema);
                if (schema.Strict)
                {
                    w.WriteBoolean("strict"u8, true);
                }

                w.WriteEndObject();
                w.WriteEndObject();
                break;
        }
    }

    protected override StreamParser CreateParser(BackendRequest request) => new ChunkParser(request, UpstreamName);

    public override HttpRequestMessage CreateModelListRequest(Uri baseUri) => new(HttpMethod.Get, new Uri(baseUri, "models"));

    public override IReadOnlyList<string> ParseModelList(ReadOnlySpan<byte> body) => ModelList.Parse(body, "data"u8, "id"u8);

    /// <summary>Parses one SSE event's data into the batch; the parse callback of <see cref="SseParser{T}"/>.</summary>
    private sealed class ChunkParser(BackendRequest request, string upstream) : StreamParser
    {
        private ulong _startedCalls;
        private HashSet<int>? _startedHigh;

        /// <summary>A finish reason or <c>[DONE]</c> (the end marker) seen: the response is whole.</summary>
        private bool _finished;

        public override bool Complete => _finished;

        protected override void ParseItem(string eventType, ReadOnlySpan<byte> data)
        {
            if (data.SequenceEqual("[DONE]"u8))
            {
                Ended = _finished = true;
                return;
            }

            if (data.IsEmpty || eventType == "ping")
            {
                return;
            }

            var reader = new Utf8JsonReader(data);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new JsonException("A stream event is not a JSON object.");
            }

            var isError = eventType == "error";
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("choices"u8))
                {
                    reader.Read();
                    ReadChoices(ref reader);
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

            if (isError)
            {
                throw UpstreamErrors.InStream(upstream, ProviderError.Parse(data));
            }
        }

        private void ReadChoices(ref Utf8JsonReader reader)
        {
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                reader.Skip();
                return;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("delta"u8))
                    {
                        reader.Read();
                        ReadDelta(ref reader);
                    }
                    else if (reader.ValueTextEquals("text"u8))
                    {
                        reader.Read();
                        Batch.AddString(ref reader, DeltaChannel.Content);
                    }
                    else if (reader.ValueTextEquals("finish_reason"u8))
                    {
                        reader.Read();
                        if (reader.TokenType == JsonTokenType.String)
                        {
                            _finished = true;
                            request.FinishReason = reader.ValueTextEquals("cancelled"u8) ? FinishReason.Cancelled : ParseFinish(reader.ValueSpan);
                        }
                    }
                    else
                    {
                        SkipValue(ref reader);
                    }
                }
            }
        }

        private void ReadDelta(ref Utf8JsonReader reader)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                return;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("content"u8))
                {
                    reader.Read();
                    Batch.AddString(ref reader, DeltaChannel.Content);
                }
                else if (reader.ValueTextEquals("reasoning_content"u8) || reader.ValueTextEquals("reasoning"u8))
                {
                    reader.Read();
                    Batch.AddString(ref reader, DeltaChannel.Reasoning);
                }
                else if (reader.ValueTextEquals("refusal"u8))
                {
                    reader.Read();
                    Batch.AddString(ref reader, DeltaChannel.Refusal);
                }
                else if (reader.ValueTextEquals("tool_calls"u8))
                {
                    reader.Read();
                    ReadToolCalls(ref reader);
                }
                else
                {
                    SkipValue(ref reader);
                }
            }
        }

        private void ReadToolCalls(ref Utf8JsonReader reader)
        {
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                reader.Skip();
                return;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                var index = 0;
                string? id = null, name = null;
                var argsStart = -1;
                var argsReader = default(Utf8JsonReader);
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("index"u8))
                    {
                        reader.Read();
                        index = ReadInt(ref reader) ?? 0;
                    }
                    else if (reader.ValueTextEquals("id"u8))
                    {
                        reader.Read();
                        id = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    }
                    else if (reader.ValueTextEquals("function"u8))
                    {
                        reader.Read();
                        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                        {
                            if (reader.ValueTextEquals("name"u8))
                            {
                                reader.Read();
                                name = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                            }
                            else if (reader.ValueTextEquals("arguments"u8))
                            {
                                reader.Read();
                                argsReader = reader;
                                argsStart = 0;
                                if (reader.TokenType != JsonTokenType.String)
                                {
                                    reader.Skip();
                                }
                            }
                            else
                            {
                                SkipValue(ref reader);
                            }
                        }
                    }
                    else
                    {
                        SkipValue(ref reader);
                    }
                }

                if (index is < 0 or > ushort.MaxValue)
                {
                    throw new JsonException($"Tool call index {index} is out of range.");
                }

                var started = IsStarted(index);
                if (!started)
                {
                    MarkStarted(index);
                    id ??= $"call_{index}";
                }

                if (argsStart == 0)
                {
                    Batch.AddString(ref argsReader, DeltaChannel.ToolCall, index, started ? null : id, started ? null : name);
                }
                else if (!started)
                {
                    Batch.Add([], DeltaChannel.ToolCall, index, id, name);
                }
            }
        }

        private bool IsStarted(int index)
            => index < 64 ? (_startedCalls & (1UL << index)) != 0 : _startedHigh?.Contains(index) == true;

        private void MarkStarted(int index)
        {
            if (index < 64)
            {
                _startedCalls |= 1UL << index;
            }
            else
            {
                (_startedHigh ??= []).Add(index);
            }
        }

        private void ReadUsage(ref Utf8JsonReader reader)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                return;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("prompt_tokens"u8))
                {
                    reader.Read();
                    request.PromptTokens = ReadInt(ref reader) ?? request.PromptTokens;
                }
                else if (reader.ValueTextEquals("completion_tokens"u8))
                {
                    reader.Read();
                    request.CompletionTokens = ReadInt(ref reader) ?? request.CompletionTokens;
                }
                else
                {
                    SkipValue(ref reader);
                }
            }
        }
    }
}
