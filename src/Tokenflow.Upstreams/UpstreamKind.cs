namespace Tokenflow.Upstreams;

/// <summary>The wire protocol an upstream speaks.</summary>
internal enum UpstreamKind
{
    /// <summary>OpenAI chat completions SSE (OpenAI, vLLM, llama-server, SGLang, another Tokenflow).</summary>
    OpenAi,

    /// <summary>Anthropic Messages API with its native SSE events.</summary>
    Anthropic,

    /// <summary>Ollama's native NDJSON <c>/api/chat</c>.</summary>
    Ollama,
}
