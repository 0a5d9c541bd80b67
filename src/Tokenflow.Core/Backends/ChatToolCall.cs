namespace Tokenflow.Core.Backends;

/// <summary>A tool call an assistant message of the prompt made (<c>messages[].tool_calls[]</c>).</summary>
/// <param name="Id">The call's id, answered by a <c>tool</c> message with the same <c>tool_call_id</c>.</param>
/// <param name="Name">The function called.</param>
/// <param name="Arguments">Its arguments as JSON text, as the model produced them.</param>
public sealed record ChatToolCall(string Id, string Name, string Arguments);
