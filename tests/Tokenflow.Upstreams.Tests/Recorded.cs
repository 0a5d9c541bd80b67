using System.Text;

namespace Tokenflow.Upstreams.Tests;

/// <summary>Provider streams in each provider's documented wire format, as the fakes replay them.</summary>
internal static class Recorded
{
    /// <summary>One OpenAI <c>chat.completion.chunk</c> SSE event with the given <c>delta</c> JSON.</summary>
    public static string OpenAiChunk(string delta, string? finish = null)
        => $$"""data: {"id":"chatcmpl-up1","object":"chat.completion.chunk","created":1694268190,"model":"gpt-x","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{{delta}},"logprobs":null,"finish_reason":{{(finish is null ? "null" : $"\"{finish}\"")}}}]}""" + "\n\n";

    public static string OpenAiUsage(int prompt, int completion)
        => $$$"""data: {"id":"chatcmpl-up1","object":"chat.completion.chunk","created":1694268190,"model":"gpt-x","choices":[],"usage":{"prompt_tokens":{{{prompt}}},"completion_tokens":{{{completion}}},"total_tokens":{{{prompt + completion}}}}}""" + "\n\n";

    public const string OpenAiDone = "data: [DONE]\n\n";

    /// <summary>A whole OpenAI stream of content pieces, a finish reason, usage and [DONE].</summary>
    public static string OpenAiText(IEnumerable<string> pieces, int prompt, int completion, string finish = "stop")
    {
        var body = new StringBuilder(OpenAiChunk("""{"role":"assistant","content":""}"""));
        foreach (var piece in pieces)
        {
            body.Append(OpenAiChunk($$"""{"content":{{System.Text.Json.JsonSerializer.Serialize(piece)}}}"""));
        }

        return body.Append(OpenAiChunk("{}", finish)).Append(OpenAiUsage(prompt, completion)).Append(OpenAiDone).ToString();
    }

    public static string Anthropic(string type, string json) => $"event: {type}\ndata: {json}\n\n";

    public static readonly string AnthropicStart = Anthropic("message_start", """{"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","content":[],"model":"claude-x","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":3,"output_tokens":1}}}""");

    public static readonly string AnthropicPing = Anthropic("ping", """{"type": "ping"}""");

    public static string AnthropicTextDelta(int index, string text)
        => Anthropic("content_block_delta", $$$"""{"type":"content_block_delta","index":{{{index}}},"delta":{"type":"text_delta","text":{{{System.Text.Json.JsonSerializer.Serialize(text)}}}}}""");

    public static string AnthropicStop(int index) => Anthropic("content_block_stop", $$"""{"type":"content_block_stop","index":{{index}}}""");

    public static string AnthropicEnd(string stopReason, int outputTokens)
        => Anthropic("message_delta", $$$"""{"type":"message_delta","delta":{"stop_reason":"{{{stopReason}}}","stop_sequence":null},"usage":{"output_tokens":{{{outputTokens}}}}}""")
            + Anthropic("message_stop", """{"type":"message_stop"}""");

    public static string OllamaLine(string content, string? thinking = null)
        => $$$"""{"model":"llama3.2","created_at":"2025-05-01T10:00:00.000Z","message":{"role":"assistant","content":{{{System.Text.Json.JsonSerializer.Serialize(content)}}}{{{(thinking is null ? "" : $",\"thinking\":{System.Text.Json.JsonSerializer.Serialize(thinking)}")}}}},"done":false}""" + "\n";

    public static string OllamaDone(int prompt, int eval, string reason = "stop")
        => $$"""{"model":"llama3.2","created_at":"2025-05-01T10:00:01.000Z","message":{"role":"assistant","content":""},"done_reason":"{{reason}}","done":true,"total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":{{prompt}},"prompt_eval_duration":342546000,"eval_count":{{eval}},"eval_duration":4535599000}""" + "\n";
}
