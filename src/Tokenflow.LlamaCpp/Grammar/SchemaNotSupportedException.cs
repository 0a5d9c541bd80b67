namespace Tokenflow.LlamaCpp.Grammar;

/// <summary>A JSON Schema (of <c>response_format</c> or a tool) uses something a llama.cpp grammar cannot express; the message names it.</summary>
internal sealed class SchemaNotSupportedException(string message) : Exception(message);
