using System.Buffers;
using System.Text.Json;
using Tokenflow.Core.Streams;

namespace Tokenflow.Server.Responses;

/// <summary>
/// The OpenAI Responses view of a stream: feeds on the log's events in order and produces both the streaming
/// event sequence (<c>response.created</c>, <c>response.output_item.added</c>, <c>response.output_text.delta</c>,
/// <c>response.reasoning_text.delta</c>, <c>response.function_call_arguments.delta</c>, the <c>.done</c> events,
/// <c>response.completed</c> / <c>.incomplete</c> / <c>.failed</c>), numbered by <c>sequence_number</c>, and the
/// <c>response</c> object at any point. An output item per run of one channel (reasoning, message) and per tool
/// call. The sequence is a pure function of the log, so a replay numbers every event the same. Not thread-safe.
/// </summary>
internal sealed class ResponseState : IDisposable
{
    private readonly string _id;
    private readonly string _model;
    private readonly long _created;
    private readonly List<Item> _items = [];
    private Item? _open;
    private StreamEvent _final;
    private Usage _usage;

    public ResponseState(string id, string model, long created)
    {
        _id = id;
        _model = model;
        _created = created;
    }

    private enum ItemKind
    {
        Reasoning,
        Message,
        FunctionCall,
    }

    /// <summary>A sink for reading the log into the response object only.</summary>
    public static ResponseEventSink Accumulate { get; } = new();

    /// <summary>True once the terminal event was read.</summary>
    public bool Ended => _final.Seq != 0;

    /// <summary>The opening events of a fresh response.</summary>
    public void Start(ResponseEventSink sink)
    {
        WriteResponseEvent(sink, "response.created"u8);
        WriteResponseEvent(sink, "response.in_progress"u8);
    }

    /// <summary>Feeds one log event, emitting the Responses events it makes.</summary>
    public void Add(in StreamEvent item, ResponseEventSink sink)
    {
        switch (item.Kind)
        {
            case StreamEventKind.Delta:
                AddDelta(in item, sink);
                break;
            case StreamEventKind.Usage:
                _usage = item.Usage;
                break;
            case StreamEventKind.Done or StreamEventKind.Error:
                Close(sink);
                _final = item;
                WriteResponseEvent(sink, Status() switch
                {
                    "completed" => "response.completed"u8,
                    "failed" => "response.failed"u8,
                    _ => "response.incomplete"u8,
                });
                break;
        }
    }

    /// <summary>Returns the items' text buffers to the pool.</summary>
    public void Dispose()
    {
        foreach (var item in _items)
        {
            item.Text.Dispose();
        }

        _items.Clear();
        _open = null;
    }

    /// <summary>The response object's status now.</summary>
    public string Status() => _final.Seq == 0 ? "in_progress"
        : _final.Kind == StreamEventKind.Error ? "failed"
        : _final.FinishReason switch
        {
            FinishReason.Cancelled => "cancelled",
            FinishReason.Length => "incomplete",
            _ => "completed",
        };

    /// <summary>Writes the <c>response</c> object as it stands.</summary>
    public void WriteResponse(Utf8JsonWriter w)
    {
        var status = Status();
        w.WriteStartObject();
        w.WriteString("id"u8, _id);
        w.WriteString("object"u8, "response"u8);
        w.WriteNumber("created_at"u8, _created);
        w.WriteString("status"u8, status);
        w.WriteString("model"u8, _model);
        w.WriteStartArray("output"u8);
        foreach (var item in _items)
        {
            item.Write(w, done: item != _open || Ended);
        }

        w.WriteEndArray();
        if (status == "incomplete")
        {
            w.WriteStartObject("incomplete_details"u8);
            w.WriteString("reason"u8, "max_output_tokens"u8);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("incomplete_details"u8);
        }

        if (_final.Kind == StreamEventKind.Error && _final.Error is { } error)
        {
            w.WriteStartObject("error"u8);
            w.WriteString("code"u8, error.Code ?? "server_error");
            w.WriteString("message"u8, error.Message);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("error"u8);
        }

        var usage = _final.Seq != 0 && _final.Usage.TotalTokens > 0 ? _final.Usage : _usage;
        if (Ended)
        {
            w.WriteStartObject("usage"u8);
            w.WriteNumber("input_tokens"u8, usage.PromptTokens);
            w.WriteNumber("output_tokens"u8, usage.CompletionTokens);
            w.WriteNumber("total_tokens"u8, usage.TotalTokens);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("usage"u8);
        }

        w.WriteEndObject();
    }

    private void WriteResponseEvent(ResponseEventSink sink, ReadOnlySpan<byte> type)
    {
        if (sink.Begin(type) is { } w)
        {
            w.WritePropertyName("response"u8);
            WriteResponse(w);
            sink.End();
        }
    }

    private void AddDelta(in StreamEvent delta, ResponseEventSink sink)
    {
        var kind = delta.Channel switch
        {
            DeltaChannel.Reasoning => ItemKind.Reasoning,
            DeltaChannel.ToolCall => ItemKind.FunctionCall,
            _ => ItemKind.Message,
        };
        if (_open is null || _open.Kind != kind || (kind == ItemKind.FunctionCall && delta.ToolCallIndex != _open.ToolCallIndex))
        {
            Close(sink);
            var index = _items.Count;
            var prefix = kind switch { ItemKind.Reasoning => "rs_", ItemKind.FunctionCall => "fc_", _ => "msg_" };
            var item = new Item(kind, $"{prefix}{_id}_{index}", index)
            {
                ToolCallIndex = delta.ToolCallIndex,
                CallId = delta.ToolCallId ?? $"call_{_id}_{delta.ToolCallIndex}",
                Name = delta.ToolName ?? string.Empty,
            };
            _items.Add(item);
            _open = item;
            if (sink.Begin("response.output_item.added"u8) is { } added)
            {
                added.WriteNumber("output_index"u8, item.OutputIndex);
                added.WritePropertyName("item"u8);
                item.Write(added, done: false);
                sink.End();
            }

            if (kind == ItemKind.Message && sink.Begin("response.content_part.added"u8) is { } part)
            {
                part.WriteString("item_id"u8, item.Id);
                part.WriteNumber("output_index"u8, item.OutputIndex);
                part.WriteNumber("content_index"u8, 0);
                part.WritePropertyName("part"u8);
                Item.WritePart(part, ReadOnlySpan<byte>.Empty);
                sink.End();
            }
        }

        var open = _open;
        if (delta.Text.IsEmpty)
        {
            return;
        }

        open.Text.Write(delta.Text.Span);
        var type = kind switch
        {
            ItemKind.Reasoning => "response.reasoning_text.delta"u8,
            ItemKind.FunctionCall => "response.function_call_arguments.delta"u8,
            _ => "response.output_text.delta"u8,
        };
        if (sink.Begin(type) is { } w)
        {
            w.WriteString("item_id"u8, open.Id);
            w.WriteNumber("output_index"u8, open.OutputIndex);
            if (kind != ItemKind.FunctionCall)
            {
                w.WriteNumber("content_index"u8, 0);
            }

            w.WriteString("delta"u8, delta.Text.Span);
            sink.End();
        }
    }

    private void Close(ResponseEventSink sink)
    {
        if (_open is not { } item)
        {
            return;
        }

        _open = null;
        Utf8JsonWriter? w;
        switch (item.Kind)
        {
            case ItemKind.Reasoning:
                if ((w = sink.Begin("response.reasoning_text.done"u8)) is not null)
                {
                    w.WriteString("item_id"u8, item.Id);
                    w.WriteNumber("output_index"u8, item.OutputIndex);
                    w.WriteNumber("content_index"u8, 0);
                    w.WriteString("text"u8, item.Text.WrittenSpan);
                    sink.End();
                }

                break;
            case ItemKind.FunctionCall:
                if ((w = sink.Begin("response.function_call_arguments.done"u8)) is not null)
                {
                    w.WriteString("item_id"u8, item.Id);
                    w.WriteNumber("output_index"u8, item.OutputIndex);
                    w.WriteString("arguments"u8, item.Text.WrittenSpan);
                    sink.End();
                }

                break;
            default:
                if ((w = sink.Begin("response.output_text.done"u8)) is not null)
                {
                    w.WriteString("item_id"u8, item.Id);
                    w.WriteNumber("output_index"u8, item.OutputIndex);
                    w.WriteNumber("content_index"u8, 0);
                    w.WriteString("text"u8, item.Text.WrittenSpan);
                    sink.End();
                }

                if ((w = sink.Begin("response.content_part.done"u8)) is not null)
                {
                    w.WriteString("item_id"u8, item.Id);
                    w.WriteNumber("output_index"u8, item.OutputIndex);
                    w.WriteNumber("content_index"u8, 0);
                    w.WritePropertyName("part"u8);
                    Item.WritePart(w, item.Text.WrittenSpan);
                    sink.End();
                }

                break;
        }

        if ((w = sink.Begin("response.output_item.done"u8)) is not null)
        {
            w.WriteNumber("output_index"u8, item.OutputIndex);
            w.WritePropertyName("item"u8);
            item.Write(w, done: true);
            sink.End();
        }
    }

    private sealed class Item(ItemKind kind, string id, int outputIndex)
    {
        public ItemKind Kind { get; } = kind;

        public string Id { get; } = id;

        public int OutputIndex { get; } = outputIndex;

        public int ToolCallIndex { get; init; }

        public string CallId { get; init; } = string.Empty;

        public string Name { get; init; } = string.Empty;

        public PooledText Text { get; } = new();

        public static void WritePart(Utf8JsonWriter w, ReadOnlySpan<byte> text)
        {
            w.WriteStartObject();
            w.WriteString("type"u8, "output_text"u8);
            w.WriteString("text"u8, text);
            w.WriteStartArray("annotations"u8);
            w.WriteEndArray();
            w.WriteEndObject();
        }

        public void Write(Utf8JsonWriter w, bool done)
        {
            var status = done ? "completed"u8 : "in_progress"u8;
            w.WriteStartObject();
            switch (Kind)
            {
                case ItemKind.Reasoning:
                    w.WriteString("type"u8, "reasoning"u8);
                    w.WriteString("id"u8, Id);
                    w.WriteStartArray("summary"u8);
                    w.WriteEndArray();
                    w.WriteStartArray("content"u8);
                    if (done)
                    {
                        w.WriteStartObject();
                        w.WriteString("type"u8, "reasoning_text"u8);
                        w.WriteString("text"u8, Text.WrittenSpan);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                    break;
                case ItemKind.FunctionCall:
                    w.WriteString("type"u8, "function_call"u8);
                    w.WriteString("id"u8, Id);
                    w.WriteString("call_id"u8, CallId);
                    w.WriteString("name"u8, Name);
                    w.WriteString("arguments"u8, done ? Text.WrittenSpan : ReadOnlySpan<byte>.Empty);
                    w.WriteString("status"u8, status);
                    break;
                default:
                    w.WriteString("type"u8, "message"u8);
                    w.WriteString("id"u8, Id);
                    w.WriteString("status"u8, status);
                    w.WriteString("role"u8, "assistant"u8);
                    w.WriteStartArray("content"u8);
                    if (done)
                    {
                        WritePart(w, Text.WrittenSpan);
                    }

                    w.WriteEndArray();
                    break;
            }

            w.WriteEndObject();
        }
    }
}
