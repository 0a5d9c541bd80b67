namespace Tokenflow.LlamaCpp.Grammar;

/// <summary>llama.cpp rejected a grammar built from a request's schema (e.g. a <c>$ref</c> cycle that consumes nothing).</summary>
internal sealed class InvalidGrammarException(string grammar)
    : Exception("llama.cpp rejected the grammar built from the request's JSON schema (a $ref cycle that consumes nothing is one cause).")
{
    /// <summary>The rejected grammar text.</summary>
    public string Grammar { get; } = grammar;
}
