using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace Tokenflow.Client;

/// <summary>
/// A Microsoft.Extensions.AI <see cref="IChatClient"/> over a Tokenflow server: streaming with transparent
/// resume, cancellation that stops the generation on the server, usage and finish reason mapped to
/// <see cref="UsageContent"/> / <see cref="ChatFinishReason"/>. With
/// <see cref="ChatOptions.AllowBackgroundResponses"/> the generation runs in the background and every
/// update carries a <see cref="ChatResponseUpdate.ContinuationToken"/> (stream id and seq) that resumes the
/// stream through <see cref="ChatOptions.ContinuationToken"/>, even from another process.
/// </summary>
public sealed class TokenflowChatClient : IChatClient
{
    private readonly TokenflowClient _client;
    private readonly bool _ownsClient;
    private readonly string? _defaultModelId;
    private readonly ChatClientMetadata _metadata;

    /// <summary>Creates a chat client for the server at <paramref name="endpoint"/> (for example <c>http://127.0.0.1:8080</c>).</summary>
    public TokenflowChatClient(Uri endpoint, string? defaultModelId = null, TokenflowClientOptions? options = null)
        : this(new TokenflowClient(endpoint, options), defaultModelId, ownsClient: true)
    {
    }

    /// <summary>Creates a chat client over an existing <see cref="TokenflowClient"/>, which it does not dispose.</summary>
    public TokenflowChatClient(TokenflowClient client, string? defaultModelId = null)
        : this(client, defaultModelId, ownsClient: false)
    {
    }

    internal TokenflowChatClient(TokenflowClient client, string? defaultModelId, bool ownsClient)
    {
        ArgumentNullException.ThrowIfNull(client);
        _client = client;
        _ownsClient = ownsClient;
        _defaultModelId = defaultModelId;
        _metadata = new ChatClientMetadata("tokenflow", client.BaseAddress, defaultModelId);
    }

    /// <inheritdoc />
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        => await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var background = options?.AllowBackgroundResponses == true;
        IAsyncEnumerable<ChatStreamEvent> events;
        if (options?.ContinuationToken is { } token)
        {
            var (streamId, after) = TokenflowContinuationToken.Read(token);
            events = _client.ResumeStreamAsync(streamId, after, cancellationToken);
        }
        else
        {
            events = _client.StreamChatAsync(ToRequest(messages, options), cancellationToken);
        }

        await foreach (var e in events.ConfigureAwait(false))
        {
            var contents = new List<AIContent>(1);
            if (!string.IsNullOrEmpty(e.Text))
            {
                contents.Add(new TextContent(e.Text) { RawRepresentation = e });
            }

            if (e.Usage is { } usage)
            {
                contents.Add(new UsageContent(ToUsageDetails(usage)) { RawRepresentation = e });
            }

            var finish = ToFinishReason(e.FinishReason);
            if (contents.Count == 0 && finish is null)
            {
                continue;
            }

            yield return new ChatResponseUpdate(ChatRole.Assistant, contents)
            {
                ResponseId = e.StreamId,
                MessageId = e.StreamId,
                ModelId = e.Model,
                CreatedAt = e.Created,
                FinishReason = finish,
                RawRepresentation = e,

                // The last updates (finish, usage) carry no token: nothing is left to resume.
                ContinuationToken = background && finish is null && e.Usage is null && e.StreamId is not null ? TokenflowContinuationToken.Create(e.StreamId, e.Seq) : null,
            };
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(ChatClientMetadata) ? _metadata
            : serviceType.IsInstanceOfType(_client) ? _client
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsClient)
        {
            _client.Dispose();
        }
    }

    internal ChatRequest ToRequest(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var model = options?.ModelId ?? _defaultModelId ?? throw new InvalidOperationException("No model: set ChatOptions.ModelId or give the client a default model id.");
        var request = new ChatRequest
        {
            Model = model,
            MaxTokens = options?.MaxOutputTokens,
            Temperature = options?.Temperature,
            TopP = options?.TopP,
            Seed = options?.Seed,
            Stop = options?.StopSequences,
            Background = options?.AllowBackgroundResponses == true ? true : null,
        };

        if (options?.Instructions is { Length: > 0 } instructions)
        {
            request.Messages.Add(ChatRequestMessage.System(instructions));
        }

        foreach (var message in messages)
        {
            request.Messages.Add(new ChatRequestMessage(message.Role.Value, message.Text));
        }

        if (options?.AdditionalProperties is { } extra)
        {
            foreach (var (name, value) in extra)
            {
                request.AdditionalProperties[name] = ToJsonNode(name, value);
            }
        }

        return request;
    }

    internal static ChatFinishReason? ToFinishReason(string? reason) => reason switch
    {
        null => null,
        "stop" => ChatFinishReason.Stop,
        "length" => ChatFinishReason.Length,
        "tool_calls" or "function_call" => ChatFinishReason.ToolCalls,
        "content_filter" => ChatFinishReason.ContentFilter,
        _ => new ChatFinishReason(reason),
    };

    private static UsageDetails ToUsageDetails(ChatUsage usage)
    {
        var details = new UsageDetails
        {
            InputTokenCount = usage.PromptTokens,
            OutputTokenCount = usage.CompletionTokens,
            TotalTokenCount = usage.TotalTokens,
        };

        if (usage.TimeToFirstToken is { } ttft)
        {
            (details.AdditionalCounts ??= [])["tokenflow.ttft_us"] = (long)(ttft.TotalMilliseconds * 1000);
        }

        return details;
    }

    private static JsonNode? ToJsonNode(string name, object? value) => value switch
    {
        null => null,
        JsonNode node => node.DeepClone(),
        JsonElement element => JsonValue.Create(element),
        string s => s,
        bool b => b,
        int i => i,
        long l => l,
        float f => f,
        double d => d,
        decimal m => m,
        _ => throw new NotSupportedException($"ChatOptions.AdditionalProperties['{name}'] has type {value.GetType().Name}; use a string, number, bool, JsonNode or JsonElement."),
    };
}
