using System.Text;
using LLama;
using LLama.Exceptions;
using LLama.Native;
using Microsoft.Extensions.Logging;
using Tokenflow.Core.Backends;
using Tokenflow.LlamaCpp.Grammar;

namespace Tokenflow.LlamaCpp.Inference;

/// <summary>
/// Turns a request into prompt tokens. Chat messages go through the model's own chat template
/// (<c>tokenizer.chat_template</c>, applied by llama.cpp's <c>llama_chat_apply_template</c>) when it has one
/// llama.cpp knows; otherwise, as for a model that only continues text, they become plain text: system
/// messages first, then every message's content on its own line, ending with the last message so the
/// model continues it. Thread-safe.
/// </summary>
internal sealed partial class PromptBuilder
{
    private readonly LLamaWeights _weights;
    private readonly ILogger _logger;
    private readonly LLamaToken? _bos;
    private int _templateUnsupported;

    public PromptBuilder(LLamaWeights weights, ILogger logger)
    {
        _weights = weights;
        _logger = logger;
        _bos = weights.Vocab.BOS;
        ChatTemplate = weights.NativeHandle.GetTemplate(name: null, strict: false) is { Length: > 0 } template ? template : null;
    }

    /// <summary>The model's chat template, or null when it has none.</summary>
    public string? ChatTemplate { get; }

    /// <summary>
    /// Tokenizes the request's prompt. When it is longer than <paramref name="maxTokens"/>, its start is
    /// dropped (BOS kept) so that the most recent text stays in the context window.
    /// </summary>
    public LLamaToken[] Build(BackendRequest request, int maxTokens, OutputConstraint? constraint = null)
    {
        LLamaToken[] tokens;
        if (request.Messages is { } original)
        {
            var messages = WithToolInstructions(original, request.Tools, constraint);
            tokens = ApplyTemplate(messages) is { } templated
                ? DropDoubleBos(Tokenize(templated, special: true))
                : Tokenize(PlainText(messages), special: false);
        }
        else
        {
            tokens = Tokenize(request.Prompt ?? string.Empty, special: false);
        }

        if (tokens.Length == 0)
        {
            // An empty prompt for a model without BOS: start from its end-of-text token, as a document boundary.
            var start = _bos ?? _weights.Vocab.EOS ?? throw new InvalidOperationException("The prompt is empty and the model has neither a BOS nor an EOS token to start from.");
            tokens = [start];
        }

        return Truncate(tokens, maxTokens);
    }

    /// <summary>The plain-text prompt for chat messages when the model has no usable chat template.</summary>
    internal static string PlainText(IReadOnlyList<ChatMessage> messages)
    {
        var text = new StringBuilder();
        foreach (var system in new[] { true, false })
        {
            foreach (var message in messages)
            {
                if (IsSystem(message.Role) != system || (message.Content.Length == 0 && message.ToolCalls is not { Count: > 0 }))
                {
                    continue;
                }

                if (text.Length > 0)
                {
                    text.Append('\n');
                }

                text.Append(Render(message));
            }
        }

        return text.ToString();

        static bool IsSystem(string role) => role is "system" or "developer";
    }

    /// <summary>
    /// A message's text for the prompt: its content, then (for an assistant message that called tools) one
    /// line per call in the JSON form a constrained tool call is generated in.
    /// </summary>
    internal static string Render(ChatMessage message)
    {
        if (message.ToolCalls is not { Count: > 0 } calls)
        {
            return message.Content;
        }

        var text = new StringBuilder(message.Content);
        foreach (var call in calls)
        {
            if (text.Length > 0)
            {
                text.Append('\n');
            }

            text.Append("{\"name\":").Append(JsonSchemaGrammar.CompactJson(call.Name)).Append(",\"arguments\":")
                .Append(call.Arguments.Length > 0 ? call.Arguments : "{}").Append('}');
        }

        return text.ToString();
    }

    /// <summary>
    /// For a forced tool call, a system message first that lists the functions (name, description, parameter
    /// schema) and the answer's form, so that a model that follows instructions picks sensible arguments; the
    /// grammar enforces the form either way.
    /// </summary>
    internal static IReadOnlyList<ChatMessage> WithToolInstructions(IReadOnlyList<ChatMessage> messages, IReadOnlyList<ToolDefinition>? tools, OutputConstraint? constraint)
    {
        if (constraint?.ToolCalls is not { } targets || tools is null)
        {
            return messages;
        }

        var text = new StringBuilder("Answer with a call of ")
            .Append(targets.Count == 1 ? "this function" : "one of these functions")
            .Append(", written as JSON {\"name\":\"<function>\",\"arguments\":{...}}:");
        foreach (var tool in tools.Where(t => targets.Any(target => target.Name == t.Name)))
        {
            text.Append("\n- ").Append(tool.Name);
            if (tool.Description is { Length: > 0 } description)
            {
                text.Append(": ").Append(description);
            }

            if (tool.Parameters is { } parameters)
            {
                text.Append(" Parameters: ").Append(parameters.GetRawText());
            }
        }

        return [new ChatMessage("system", text.ToString()), .. messages];
    }

    private string? ApplyTemplate(IReadOnlyList<ChatMessage> messages)
    {
        if (ChatTemplate is null || Volatile.Read(ref _templateUnsupported) != 0)
        {
            return null;
        }

        var template = new LLamaTemplate(ChatTemplate) { AddAssistant = true };
        foreach (var message in messages)
        {
            template.Add(message.Role, Render(message));
        }

        try
        {
            return Encoding.UTF8.GetString(template.Apply());
        }
        catch (MissingTemplateException)
        {
            // llama.cpp recognises the common template families by their markers, not arbitrary Jinja.
            if (Interlocked.Exchange(ref _templateUnsupported, 1) == 0)
            {
                LogTemplateUnsupported(_logger);
            }

            return null;
        }
    }

    private LLamaToken[] Tokenize(string text, bool special)
        => text.Length == 0 && _bos is { } bos
            ? [bos]
            : _weights.Tokenize(text, add_bos: true, special: special, Encoding.UTF8);

    private LLamaToken[] DropDoubleBos(LLamaToken[] tokens)
        => tokens.Length >= 2 && _bos is { } bos && tokens[0] == bos && tokens[1] == bos ? tokens[1..] : tokens;

    private LLamaToken[] Truncate(LLamaToken[] tokens, int maxTokens)
    {
        if (tokens.Length <= maxTokens)
        {
            return tokens;
        }

        LogTruncated(_logger, tokens.Length, maxTokens);
        if (_bos is { } bos && tokens[0] == bos)
        {
            return [bos, .. tokens.AsSpan(tokens.Length - (maxTokens - 1))];
        }

        return tokens[^maxTokens..];
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The model's chat template is not one llama.cpp can apply; chat messages are sent as plain text")]
    private static partial void LogTemplateUnsupported(ILogger logger);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Prompt of {Tokens} tokens cut to its last {Kept} to fit the context window")]
    private static partial void LogTruncated(ILogger logger, int tokens, int kept);
}
