using Tokenflow.Core.Backends;

namespace Tokenflow.LlamaCpp.Tests.Backend;

/// <summary>Exact behaviour on synthetic models that always predict one token.</summary>
public sealed class SyntheticModelTests
{
    private const string ChatMl =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    [Fact]
    public async Task Generation_stops_at_the_end_of_generation_token()
    {
        using var model = Load(SyntheticGguf.Eos);
        var request = new BackendRequest { Model = "s", Prompt = "a a a", MaxTokens = 50, Temperature = 0.7f, Seed = 1 };

        var result = await LlamaCppBackendTests.GenerateAsync(model.Backend, request);

        Assert.Empty(result.Tokens);
        Assert.True(request.PromptTokens > 0);
        await LlamaCppBackendTests.WaitUntilAsync(() => model.Backend.ActiveSequenceCount == 0);
    }

    [Fact]
    public async Task Generation_stops_when_the_context_window_is_full()
    {
        using var model = Load(SyntheticGguf.LetterA, contextSize: 32);
        var request = new BackendRequest { Model = "s", Prompt = "a a", MaxTokens = 1000, Temperature = 0 };

        var result = await LlamaCppBackendTests.GenerateAsync(model.Backend, request);

        Assert.Equal(32, model.Backend.ContextLength);
        Assert.Equal(32, request.PromptTokens + result.Tokens.Count);
        Assert.All(result.Tokens, t => Assert.Equal(SyntheticGguf.LetterA, t));
        Assert.Equal(new string('a', result.Tokens.Count), result.Text);
    }

    [Fact]
    public async Task Max_tokens_ends_the_generation()
    {
        using var model = Load(SyntheticGguf.LetterA);
        var request = new BackendRequest { Model = "s", Prompt = "a", MaxTokens = 5, Temperature = 0 };

        var result = await LlamaCppBackendTests.GenerateAsync(model.Backend, request);

        Assert.Equal(5, result.Tokens.Count);
    }

    [Fact]
    public async Task Long_prompt_keeps_its_end_to_leave_room_in_the_window()
    {
        using var model = Load(SyntheticGguf.LetterA, contextSize: 32);
        var request = new BackendRequest { Model = "s", Prompt = string.Concat(Enumerable.Repeat("a b c ", 40)), MaxTokens = 8, Temperature = 0 };

        var result = await LlamaCppBackendTests.GenerateAsync(model.Backend, request);

        Assert.Equal(32 - 8, request.PromptTokens);
        Assert.Equal(8, result.Tokens.Count);
    }

    [Fact]
    public async Task Pieces_carry_raw_token_bytes_even_inside_a_character()
    {
        // The byte token <0xC3>: the first half of a two-byte UTF-8 character, never a whole one.
        using var model = Load(3 + 0xC3);
        var pieces = new List<byte[]>();

        await foreach (var piece in model.Backend.GenerateAsync(new BackendRequest { Model = "s", Prompt = "a", MaxTokens = 3, Temperature = 0 }, CancellationToken.None))
        {
            pieces.Add(piece.Utf8.ToArray());
        }

        Assert.Equal(3, pieces.Count);
        Assert.All(pieces, p => Assert.Equal(new byte[] { 0xC3 }, p));
    }

    [Fact]
    public async Task Chat_messages_go_through_the_models_chat_template()
    {
        using var templated = Load(SyntheticGguf.LetterA, chatTemplate: ChatMl);
        using var plain = Load(SyntheticGguf.LetterA);
        BackendRequest Chat() => new() { Model = "s", Messages = [new ChatMessage("user", "hello")], MaxTokens = 1, Temperature = 0 };
        var viaTemplate = Chat();
        var viaPlain = Chat();

        await LlamaCppBackendTests.GenerateAsync(templated.Backend, viaTemplate);
        await LlamaCppBackendTests.GenerateAsync(plain.Backend, viaPlain);

        // BOS, then byte tokens: "▁" (3 bytes) and the text, which the template wraps in ChatML.
        Assert.Equal(1 + 3 + "hello".Length, viaPlain.PromptTokens);
        Assert.Equal(1 + 3 + "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n".Length, viaTemplate.PromptTokens);
    }

    [Fact]
    public async Task Template_llama_cpp_does_not_know_falls_back_to_plain_text()
    {
        using var model = Load(SyntheticGguf.LetterA, chatTemplate: "{{ bos_token }}{% for m in messages %}[[{{ m.content }}]]{% endfor %}");
        var request = new BackendRequest { Model = "s", Messages = [new ChatMessage("user", "hello")], MaxTokens = 1, Temperature = 0 };

        var result = await LlamaCppBackendTests.GenerateAsync(model.Backend, request);

        Assert.Equal(1 + 3 + 5, request.PromptTokens);
        Assert.Single(result.Tokens);
    }

    private static SyntheticModel Load(int favouredToken, int contextSize = 0, string? chatTemplate = null)
    {
        var path = SyntheticGguf.Write(favouredToken, chatTemplate);
        var backend = new LlamaCppBackend(ModelReference.Parse(path), new LlamaCppOptions { ContextSize = contextSize, MaxConcurrentSequences = 2, Threads = 1, WarmupTokens = 1 });
        return new SyntheticModel(backend, path);
    }

    private sealed class SyntheticModel(LlamaCppBackend backend, string path) : IDisposable
    {
        public LlamaCppBackend Backend => backend;

        public void Dispose()
        {
            backend.Dispose();
            File.Delete(path);
        }
    }
}
