using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Streams;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using CoreChatMessage = Tokenflow.Core.Backends.ChatMessage;

namespace Tokenflow.Upstreams;

/// <summary>
/// A backend over any Microsoft.Extensions.AI <see cref="IChatClient"/>: the request becomes chat messages
/// and <see cref="ChatOptions"/>; streamed updates become pieces (text, reasoning, whole function calls as
/// tool-call pieces), their usage and finish reason the generation's.
/// </summary>
internal sealed class ChatClientBackend : IModelBackend
{
    private readonly IChatClient _client;
    private readonly string? _modelId;

    public ChatClientBackend(IChatClient client, string? modelId)
    {
        _client = client;
        _modelId = modelId;
    }

    public async IAsyncEnumerable<TokenPiece> GenerateAsync(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var messages = ToMessages(request);
        var options = ToOptions(request);
        var toolCalls = 0;
        await foreach (var update in _client.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
        {
            foreach (var content in update.Contents)
            {
                switch (content)
                {
                    case TextReasoningContent { Text.Length: > 0 } reasoning:
                        yield return TokenPiece.Reasoning(Encoding.UTF8.GetBytes(reasoning.Text));
                        break;
                    case TextContent { Text.Length: > 0 } text:
                        yield return new TokenPiece(Encoding.UTF8.GetBytes(text.Text));
                        break;
                    case FunctionCallContent call:
                        var arguments = call.Arguments is null ? "{}"u8.ToArray() : JsonSerializer.SerializeToUtf8Bytes(call.Arguments, CompactJson);
                        yield return TokenPiece.ToolCallStart(toolCalls++, call.CallId, call.Name, arguments);
                        break;
                    case UsageContent usage:
                        if (usage.Details.InputTokenCount is { } input)
                        {
                            request.PromptTokens = (int)input;
                        }

                        if (usage.Details.OutputTokenCount is { } output)
                        {
                            request.CompletionTokens = (int)output;
                        }

                        break;
                }
            }

            if (update.FinishReason is { } finish)
            {
                request.FinishReason = finish == ChatFinishReason.Length ? FinishReason.Length
                    : finish == ChatFinishReason.ToolCalls ? FinishReason.ToolCalls
                    : finish == ChatFinishReason.ContentFilter ? FinishReason.ContentFilter
                    : FinishReason.Stop;
            }
        }
    }

    private static List<AiChatMessage> ToMessages(BackendRequest request)
    {
        if (request.Messages is null)
        {
            return [new AiChatMessage(ChatRole.User, request.Prompt ?? string.Empty)];
        }

        var messages = new List<AiChatMessage>(request.Messages.Count);
        foreach (var m in request.Messages)
        {
            messages.Add(ToMessage(m));
        }

        return messages;
    }

    private static AiChatMessage ToMessage(CoreChatMessage m)
    {
        var role = m.Role switch
        {
            "system" or "developer" => ChatRole.System,
            "assistant" => ChatRole.Assistant,
            "tool" or "function" => ChatRole.Tool,
            _ => ChatRole.User,
        };
        var contents = new List<AIContent>();
        if (role == ChatRole.Tool)
        {
            contents.Add(new FunctionResultContent(m.ToolCallId ?? string.Empty, m.Content));
        }
        else if (m.Content.Length > 0)
        {
            contents.Add(new TextContent(m.Content));
        }

        foreach (var call in m.ToolCalls ?? [])
        {
            Dictionary<string, object?>? arguments = null;
            try
            {
                arguments = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(call.Arguments.Length == 0 ? "{}" : call.Arguments)?
                    .ToDictionary(kv => kv.Key, kv => (object?)kv.Value);
            }
            catch (JsonException)
            {
            }

            contents.Add(new FunctionCallContent(call.Id, call.Name, arguments));
        }

        return new AiChatMessage(role, contents) { AuthorName = m.Name };
    }

    private ChatOptions ToOptions(BackendRequest request)
    {
        var options = new ChatOptions
        {
            ModelId = _modelId,
            MaxOutputTokens = request.MaxTokens > 0 ? request.MaxTokens : null,
            Temperature = request.Temperature,
            TopP = request.TopP,
            Seed = request.Seed,
        };

        if (request.Tools is { Count: > 0 } tools)
        {
            options.Tools = [.. tools.Select(t => (AITool)AIFunctionFactory.CreateDeclaration(t.Name, t.Description, t.Parameters ?? EmptySchema))];
            options.AllowMultipleToolCalls = request.ParallelToolCalls;
            options.ToolMode = request.ToolChoice switch
            {
                { Mode: ToolChoiceMode.None } => ChatToolMode.None,
                { Mode: ToolChoiceMode.Required } => ChatToolMode.RequireAny,
                { Mode: ToolChoiceMode.Function, FunctionName: { } name } => ChatToolMode.RequireSpecific(name),
                _ => ChatToolMode.Auto,
            };
        }

        options.ResponseFormat = request.ResponseFormat switch
        {
            { Kind: ResponseFormatKind.JsonObject } => ChatResponseFormat.Json,
            { Kind: ResponseFormatKind.JsonSchema, Schema: { } schema } format => ChatResponseFormat.ForJsonSchema(schema, format.Name),
            _ => null,
        };
        return options;
    }

    /// <summary>MEAI's serializer options, unindented: arguments text as a model would stream it.</summary>
    private static readonly JsonSerializerOptions CompactJson = new(AIJsonUtilities.DefaultOptions) { WriteIndented = false };

    private static JsonElement EmptySchema { get; } = JsonDocument.Parse("""{"type":"object","properties":{}}""").RootElement;
}
