namespace Tokenflow.Server.OpenAi;

/// <summary>Which OpenAI endpoint a generation answers: it decides the chunk and response shapes.</summary>
internal enum CompletionKind
{
    /// <summary><c>/v1/chat/completions</c>: <c>chat.completion(.chunk)</c> objects.</summary>
    Chat,

    /// <summary><c>/v1/completions</c>: <c>text_completion</c> objects.</summary>
    Text,
}
