using System.Text.Json;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Streams;

namespace Tokenflow.Upstreams.Protocols;

/// <summary>
/// Ollama's native streaming API: newline-delimited JSON from <c>/api/chat</c> (<c>message.content</c>,
/// <c>message.thinking</c>, whole <c>message.tool_calls</c>) or <c>/api/generate</c> (<c>response</c>) for
/// plain prompts, ending with a <c>done: true</c> line carrying <c>done_reason</c>, <c>prompt_eval_count</c>
/// and <c>eval_count</c>; an <c>{"error":…}</c> line reports a failure.
/// </summary>
internal sealed class OllamaProtocol : UpstreamProtocol
{
    public override HttpRequestMessage CreateGenerateRequest(Uri baseUri, BackendRequest request, string modelId)
    {
        var chat = request.Prompt is null;
        return Post(Resolve(baseUri, chat ? "api/chat" : "api/generate"), w =>
        {
            w.WriteStartObject();
            w.WriteString("model"u8, modelId);
            if (chat)
            {
                WriteMessages(w, request.Messages ?? []);
                WriteTools(w, request);
            }
            else
            {
                w.WriteString("prompt"u8, request.Prompt);
            }

            w.WriteBoolean("stream"u8, true);
            switch (request.ResponseFormat)
            {
                case { Kind: ResponseFormatKind.JsonObject }:
                    w.WriteString("format"u8, "json"u8);
                    break;
                case { Kind: ResponseFormatKind.JsonSchema } schema:
                    w.WritePropertyName("format"u8);
                    WriteSchema(w, schema.Schema);
                    break;
            }

            w.WriteStartObject("options"u8);
            if (request.MaxTokens > 0)
            {
                w.WriteNumber("num_predict"u8, request.MaxTokens);
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

            w.WriteEndObject();
            w.WriteEndObject();
        });
    }

    private static void WriteMessages(Utf8JsonWriter w, IReadOnlyList<ChatMessage> messages)
    {
        w.WriteStartArray("messages"u8);
        foreach (var m in messages)
        {
            w.WriteStartObject();
            w.WriteString("role"u8, m.Role == "developer" ? "system" : m.Role);
            w.WriteString("content"u8, m.Content);
            if (m.Role == "tool" && m.Name is { } toolName)
            {
                w.WriteString("tool_name"u8, toolName);
            }

            if (m.ToolCalls is { Count: > 0 } calls)
            {
                w.WriteStartArray("tool_calls"u8);
                foreach (var call in calls)
                {
                    w.WriteStartObject();
                    w.WriteStartObject("function"u8);
                    w.WriteString("name"u8, call.Name);
                    w.WritePropertyName("arguments"u8);
                    try
                    {
                        using var doc = JsonDocument.Parse(call.Arguments.Length == 0 ? "{}" : call.Arguments);
                        doc.RootElement.WriteTo(w);
                    }
                    catch (JsonException)
                    {
                        w.WriteStartObject();
                        w.WriteEndObject();
                    }

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
        if (request.Tools is not { Count: > 0 } tools || request.ToolChoice?.Mode == ToolChoiceMode.None)
        {
            return;
        }

        w.WriteStartArray("tools"u8);
        foreach (var tool in tools)
        {
            if (request.ToolChoice is { Mode: ToolChoiceMode.Function, FunctionName: { } only } && only != tool.Name)
            {
                continue;
            }

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
            w.WriteEndObject();
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    protected override bool Ndjson => true;

    protected override StreamParser CreateParser(BackendRequest request) => new LineParser(request, UpstreamName);

    public override HttpRequestMessage CreateModelListRequest(Uri baseUri) => new(HttpMethod.Get, new Uri(baseUri, "api/tags"));

    public override IReadOnlyList<string> ParseModelList(ReadOnlySpan<byte> body) => ModelList.Parse(body, "models"u8, "name"u8);

    private sealed class LineParser(BackendRequest request, string upstream) : StreamParser
    {
        private int _toolCalls;

        protected override void ParseItem(string eventType, ReadOnlySpan<byte> line)
        {
            line = line.TrimEnd((byte)'\r');
            if (line.IsEmpty)
            {
                return;
            }

            var reader = new Utf8JsonReader(line);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new JsonException("A stream line is not a JSON object.");
            }

            var done = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("message"u8))
                {
                    reader.Read();
                    ReadMessage(ref reader, line);
                }
                else if (reader.ValueTextEquals("response"u8))
                {
                    reader.Read();
                    Batch.AddString(ref reader, DeltaChannel.Content);
                }
                else if (reader.ValueTextEquals("thinking"u8))
                {
                    reader.Read();
                    Batch.AddString(ref reader, DeltaChannel.Reasoning);
                }
                else if (reader.ValueTextEquals("done"u8))
                {
                    reader.Read();
                    done = reader.TokenType == JsonTokenType.True;
                }
                else if (reader.ValueTextEquals("done_reason"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        request.FinishReason = ParseFinish(reader.ValueSpan);
                    }
                }
                else if (reader.ValueTextEquals("prompt_eval_count"u8))
                {
                    reader.Read();
                    request.PromptTokens = ReadInt(ref reader) ?? request.PromptTokens;
                }
                else if (reader.ValueTextEquals("eval_count"u8))
                {
                    reader.Read();
                    request.CompletionTokens = ReadInt(ref reader) ?? request.CompletionTokens;
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

            if (done)
            {
                Ended = true;
                if (_toolCalls > 0 && request.FinishReason == FinishReason.Stop)
                {
                    // Ollama says "stop" after tool calls; OpenAI clients expect "tool_calls".
                    request.FinishReason = FinishReason.ToolCalls;
                }
            }
        }

        private void ReadMessage(ref Utf8JsonReader reader, ReadOnlySpan<byte> line)
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
                else if (reader.ValueTextEquals("thinking"u8))
                {
                    reader.Read();
                    Batch.AddString(ref reader, DeltaChannel.Reasoning);
                }
                else if (reader.ValueTextEquals("tool_calls"u8))
                {
                    reader.Read();
                    ReadToolCalls(ref reader, line);
                }
                else
                {
                    SkipValue(ref reader);
                }
            }
        }

        private void ReadToolCalls(ref Utf8JsonReader reader, ReadOnlySpan<byte> line)
        {
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                reader.Skip();
                return;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                string? id = null, name = null;
                ReadOnlySpan<byte> arguments = "{}"u8;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("id"u8))
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
                                // Ollama sends the arguments as a JSON object, whole: its text is the OpenAI "arguments".
                                reader.Read();
                                var from = (int)reader.TokenStartIndex;
                                reader.Skip();
                                arguments = line[from..(int)reader.BytesConsumed];
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

                var index = _toolCalls++;
                Batch.Add(arguments, DeltaChannel.ToolCall, index, id ?? $"call_{index}", name ?? string.Empty);
            }
        }

    }
}
