using System.Text;
using Tokenflow.Core.Backends;

namespace Tokenflow.LlamaCpp.Grammar;

/// <summary>
/// What a request's output must look like, as a llama.cpp grammar: JSON for <c>response_format</c>
/// <c>json_object</c>/<c>json_schema</c>, or a tool call when <c>tool_choice</c> forces one. Tool choice
/// <c>auto</c> and <c>none</c> leave the output free: small local models are not trained to call tools, so they
/// answer with text.
/// </summary>
internal sealed class OutputConstraint
{
    private OutputConstraint(string grammar, IReadOnlyList<ToolCallTarget>? toolCalls)
    {
        Grammar = grammar;
        ToolCalls = toolCalls;
    }

    /// <summary>The GBNF grammar, whose start rule is <see cref="JsonSchemaGrammar.RootRule"/>.</summary>
    public string Grammar { get; }

    /// <summary>The functions the output may call (it is then <c>{"name":…,"arguments":…}</c>); null for JSON output.</summary>
    public IReadOnlyList<ToolCallTarget>? ToolCalls { get; }

    /// <summary>The constraint of <paramref name="request"/>; null when its output is free text.</summary>
    /// <exception cref="SchemaNotSupportedException">A schema uses something the grammar cannot express.</exception>
    public static OutputConstraint? For(BackendRequest request)
    {
        if (request.Tools is { Count: > 0 } tools && request.ToolChoice is { Mode: ToolChoiceMode.Required or ToolChoiceMode.Function } choice)
        {
            return ForToolCall(tools, choice);
        }

        return request.ResponseFormat?.Kind switch
        {
            ResponseFormatKind.JsonObject => new OutputConstraint(JsonSchemaGrammar.AnyObject(), null),
            ResponseFormatKind.JsonSchema when request.ResponseFormat.Schema is { } schema
                => new OutputConstraint(JsonSchemaGrammar.FromSchema(schema, "response_format.json_schema.schema"), null),
            ResponseFormatKind.JsonSchema => new OutputConstraint(JsonSchemaGrammar.AnyObject(), null),
            _ => null,
        };
    }

    private static OutputConstraint ForToolCall(IReadOnlyList<ToolDefinition> tools, ToolChoice choice)
    {
        var grammar = new JsonSchemaGrammar();
        var targets = new List<ToolCallTarget>();
        var alternatives = new List<string>();
        for (var i = 0; i < tools.Count; i++)
        {
            var tool = tools[i];
            if (choice.Mode == ToolChoiceMode.Function && tool.Name != choice.FunctionName)
            {
                continue;
            }

            var arguments = tool.Parameters is { } parameters
                ? grammar.AddSchema(parameters, JsonSchemaGrammar.Sanitize(tool.Name) + "-arguments", $"tools[{i}].function.parameters")
                : "\"{}\"";

            // The model writes exactly this header, then the arguments, then "}" (no whitespace anywhere).
            var header = "{\"name\":" + JsonSchemaGrammar.CompactJson(tool.Name) + ",\"arguments\":";
            alternatives.Add(JsonSchemaGrammar.Literal(header) + " " + arguments + " \"}\"");
            targets.Add(new ToolCallTarget(tool.Name, Encoding.UTF8.GetBytes(header)));
        }

        if (targets.Count == 0)
        {
            throw new SchemaNotSupportedException($"'tool_choice' names the function '{choice.FunctionName}', which is not in 'tools'.");
        }

        grammar.SetRule(JsonSchemaGrammar.RootRule, string.Join(" | ", alternatives));
        return new OutputConstraint(grammar.Format(), targets);
    }
}

/// <summary>A function a constrained output may call, and the exact bytes the output starts with when it does.</summary>
/// <param name="Name">The function's name.</param>
/// <param name="Header">The UTF-8 of <c>{"name":"…","arguments":</c>.</param>
internal sealed record ToolCallTarget(string Name, byte[] Header);
