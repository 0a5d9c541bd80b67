using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Streams;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Responses;

/// <summary>
/// A stored response's conversation, for <c>previous_response_id</c>: a response keeps its input (the whole
/// conversation it continued, without <c>instructions</c>, which are not carried over) as its stream's
/// <see cref="StreamDescriptor.Context"/>, so it lives exactly as long as the stream and reaches every process
/// that shares the store. Continuing it reads that input back and appends the response's own output (its text
/// and function calls) from the log. A response made with <c>store: false</c> keeps no conversation.
/// </summary>
internal static class ResponseConversation
{
    /// <summary>The conversation as the JSON a stream keeps: <c>[{"role","content","tool_calls"?,"tool_call_id"?,"name"?}]</c>.</summary>
    public static string Serialize(IEnumerable<ChatMessage> messages)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, JsonWriting.Options))
        {
            w.WriteStartArray();
            foreach (var message in messages)
            {
                w.WriteStartObject();
                w.WriteString("role"u8, message.Role);
                w.WriteString("content"u8, message.Content);
                if (message.ToolCalls is { Count: > 0 } calls)
                {
                    w.WriteStartArray("tool_calls"u8);
                    foreach (var call in calls)
                    {
                        w.WriteStartObject();
                        w.WriteString("id"u8, call.Id);
                        w.WriteString("name"u8, call.Name);
                        w.WriteString("arguments"u8, call.Arguments);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                }

                if (message.ToolCallId is { } callId)
                {
                    w.WriteString("tool_call_id"u8, callId);
                }

                if (message.Name is { } name)
                {
                    w.WriteString("name"u8, name);
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>
    /// The conversation that continuing response <paramref name="id"/> starts from: its stored input followed by its
    /// output; or the error to answer with (not found — also for another key's or an unstored response —, or still
    /// in progress).
    /// </summary>
    public static async Task<(List<ChatMessage>? Messages, OpenAiError? Error)> LoadAsync(StreamAccess streams, string id, string? owner, CancellationToken cancellationToken)
    {
        // One open gives both the stream's descriptor (the stored conversation) and its log (the output).
        var (openStatus, reader, descriptor) = await streams.OpenAsync(id, 0, owner, cancellationToken);
        await using (reader)
        {
            if (reader is null)
            {
                // A truncated log comes without its descriptor: look it up to tell a stored response apart.
                return (null, openStatus == StreamOpenStatus.Truncated && IsStored(await streams.FindAsync(id, owner, cancellationToken))
                    ? OpenAiError.Invalid($"Previous response '{id}' is no longer retained in full and cannot be continued.", "previous_response_id", "previous_response_not_retained")
                    : NotFound(id));
            }

            if (!TryReadConversation(descriptor, out var messages))
            {
                return (null, NotFound(id));
            }

            if ((await streams.GetStatusAsync(id, owner, cancellationToken))?.State == StreamState.Running)
            {
                return (null, OpenAiError.Invalid($"Previous response '{id}' is still in progress: continue it once it has completed (or cancel it).", "previous_response_id", "previous_response_in_progress"));
            }

            var output = new StreamOutput();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            while (output.Final.Seq == 0 && await reader.WaitToReadAsync(timeout.Token))
            {
                while (output.Final.Seq == 0 && reader.TryRead(out var item))
                {
                    output.Add(in item);
                }
            }

            var calls = output.ToolCalls.Select(c => new ChatToolCall(c.Id, c.Name, c.ArgumentsText)).ToList();
            messages.Add(new ChatMessage("assistant", Encoding.UTF8.GetString(output.Content)) { ToolCalls = calls.Count > 0 ? calls : null });
            return (messages, null);
        }
    }

    /// <summary>Reads the JSON <see cref="Serialize"/> wrote.</summary>
    public static List<ChatMessage> Deserialize(string json)
    {
        using var document = JsonDocument.Parse(json);
        var messages = new List<ChatMessage>(document.RootElement.GetArrayLength() + 2);
        foreach (var item in document.RootElement.EnumerateArray())
        {
            List<ChatToolCall>? calls = null;
            if (item.TryGetProperty("tool_calls", out var list))
            {
                calls = [.. list.EnumerateArray().Select(c => new ChatToolCall(c.GetProperty("id").GetString()!, c.GetProperty("name").GetString()!, c.GetProperty("arguments").GetString()!))];
            }

            messages.Add(new ChatMessage(item.GetProperty("role").GetString()!, item.GetProperty("content").GetString()!)
            {
                ToolCalls = calls,
                ToolCallId = item.TryGetProperty("tool_call_id", out var callId) ? callId.GetString() : null,
                Name = item.TryGetProperty("name", out var name) ? name.GetString() : null,
            });
        }

        return messages;
    }

    /// <summary>The conversation a stored response keeps; false for any other stream or unreadable state.</summary>
    private static bool TryReadConversation(StreamDescriptor? descriptor, [NotNullWhen(true)] out List<ChatMessage>? messages)
    {
        messages = null;
        if (!IsStored(descriptor))
        {
            return false;
        }

        try
        {
            messages = Deserialize(descriptor!.Context!);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static bool IsStored(StreamDescriptor? descriptor)
        => descriptor is { Metadata: ResponsesRequest.Metadata, Context: not null };

    private static OpenAiError NotFound(string id)
        => new(StatusCodes.Status404NotFound, $"Previous response with id '{id}' not found.", "invalid_request_error", "previous_response_id", "previous_response_not_found");
}
