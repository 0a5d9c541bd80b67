using System.Text.Json;
using System.Text.RegularExpressions;
using Tokenflow.Client;
using Tokenflow.Core.Sim;

namespace Tokenflow.Cli.Tests.Chat;

public sealed partial class ChatCommandTests
{
    [GeneratedRegex(@"^\[TTFT [0-9.]+ ms · 24 tokens · [0-9,.]+ tokens/s · [0-9.]+ s · finish length · chatcmpl-[0-9A-Za-z]+\]$")]
    private static partial Regex Summary();

    [Fact]
    public async Task Chat_prints_the_tokens_then_a_one_line_summary()
    {
        await using var server = await TestServer.StartAsync();
        var (code, run) = await CliRun.RunAsync("chat", "Hello there", "--url", server.Address.ToString(), "--model", "sim", "--max-tokens", "24", "--seed", "6");

        Assert.Equal(0, code);
        Assert.Equal(SimBackend.ExpectedText(6, 24) + Environment.NewLine, run.Out);
        Assert.Matches(Summary(), run.Error.Trim());
    }

    [Fact]
    public async Task Chat_json_reports_text_timings_and_usage()
    {
        await using var server = await TestServer.StartAsync();
        var (code, run) = await CliRun.RunAsync("chat", "Hello", "--url", server.Address.ToString(), "--model", "sim", "--max-tokens", "30", "--seed", "2", "--json", "--extra", """{"sim_ttft_ms":40}""");

        Assert.Equal(0, code);
        using var json = JsonDocument.Parse(run.Out);
        var root = json.RootElement;
        Assert.Equal(SimBackend.ExpectedText(2, 30), root.GetProperty("text").GetString());
        Assert.Equal("sim", root.GetProperty("model").GetString());
        Assert.Equal("length", root.GetProperty("finish_reason").GetString());
        Assert.Equal(30, root.GetProperty("tokens").GetInt32());
        Assert.True(root.GetProperty("ttft_ms").GetDouble() >= 40, "sim_ttft_ms reached the server");
        Assert.True(root.GetProperty("tokens_per_second").GetDouble() > 0);
        Assert.Equal(30, root.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.StartsWith("chatcmpl-", root.GetProperty("stream_id").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chat_without_a_prompt_is_interactive_and_keeps_the_conversation()
    {
        await using var server = await TestServer.StartAsync();
        var run = new CliRun("What is streaming?\nAnd resume?\n/exit\n");
        var code = await run.StartAsync(CancellationToken.None, "chat", "--url", server.Address.ToString(), "--model", "sim", "--max-tokens", "8", "--json");

        Assert.Equal(0, code);
        var turns = run.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement).ToList();
        Assert.Equal(2, turns.Count);
        var prompts = turns.Select(t => t.GetProperty("usage").GetProperty("prompt_tokens").GetInt32()).ToList();
        Assert.True(prompts[1] > prompts[0] + 8, $"the second turn carries the first: {prompts[0]} then {prompts[1]} prompt tokens");
        Assert.Contains("tokenflow chat — sim", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ctrl_C_cancels_the_stream_on_the_server()
    {
        await using var server = await TestServer.StartAsync();
        var run = new CliRun();
        var chat = run.StartAsync(CancellationToken.None, "chat", "Go on", "--url", server.Address.ToString(), "--model", "sim", "--max-tokens", "1000000", "--extra", """{"sim_tokens_per_second":200,"resume_grace_ms":60000}""");
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (run.Out.Length < 20 && DateTime.UtcNow < deadline && !chat.IsCompleted)
        {
            await Task.Delay(10);
        }

        Assert.True(run.Console.Interrupt(), "chat listens for Ctrl-C while streaming");
        Assert.Equal(130, await chat.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("finish cancelled · cancelled on the server", run.Error, StringComparison.Ordinal);

        var streamId = ChatId().Match(run.Error).Value;
        using var client = new TokenflowClient(server.Address);
        Assert.Equal("cancelled", (await client.GetStreamAsync(streamId)).Status);
    }

    [Fact]
    public async Task Chat_reports_an_unknown_model_as_an_error()
    {
        await using var server = await TestServer.StartAsync();
        var (code, run) = await CliRun.RunAsync("chat", "hi", "--url", server.Address.ToString(), "--model", "nope");
        Assert.Equal(1, code);
        Assert.Contains("error:", run.Error, StringComparison.Ordinal);
        Assert.Contains("model_not_found", run.Error, StringComparison.Ordinal);
    }

    [GeneratedRegex("chatcmpl-[0-9A-Za-z]+")]
    private static partial Regex ChatId();
}
