using System.Net.Http.Json;
using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using Tokenflow.Core.Sim;
using Tokenflow.Server.Tests.OpenAi;

namespace Tokenflow.Server.Tests.Mcp;

public sealed class McpToolTests
{
    private static readonly object[] UserMessage = [new { role = "user", content = "Say something." }];

    [Fact]
    public async Task Tools_list_names_the_generation_tools_with_input_and_output_schemas()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await McpTestClient.ConnectAsync(server);

        var tools = (await client.ListToolsAsync()).ToDictionary(t => t.Name);
        Assert.Equal(["cancel_stream", "generate", "read_stream", "start_generation"], tools.Keys.Order());
        foreach (var tool in tools.Values)
        {
            Assert.Equal("object", tool.ProtocolTool.InputSchema.GetProperty("type").GetString());
            Assert.Equal("object", tool.ProtocolTool.OutputSchema!.Value.GetProperty("type").GetString());
            Assert.False(string.IsNullOrWhiteSpace(tool.Description));
        }

        var generate = tools["generate"].ProtocolTool;
        Assert.True(generate.InputSchema.GetProperty("properties").TryGetProperty("messages", out _));
        Assert.Equal(["finish_reason", "stream_id", "text", "usage"], generate.OutputSchema!.Value.GetProperty("required").EnumerateArray().Select(e => e.GetString()).Order());

        var templates = await client.ListResourceTemplatesAsync();
        Assert.Contains(templates, t => t.UriTemplate == "tokenflow://streams/{stream_id}");
    }

    [Fact]
    public async Task Generate_sends_each_delta_as_progress_and_returns_the_text_of_chat_completions()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await McpTestClient.ConnectAsync(server);
        await using var progress = new McpTestClient.ProgressCollector(client);

        var result = await client.CallAsync("generate", new { model = "sim", messages = UserMessage, max_tokens = 40, seed = 7 }, progress);

        var structured = result.Structured();
        var text = structured.GetProperty("text").GetString()!;
        Assert.Equal(text, result.Text());
        Assert.Equal(SimBackend.ExpectedText(7, 40), text);
        Assert.Equal("length", structured.GetProperty("finish_reason").GetString());
        Assert.Equal(40, structured.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.StartsWith("chatcmpl-", structured.GetProperty("stream_id").GetString());

        // One notification per delta, numbered 1, 2, 3 …; the first names the stream.
        await progress.WaitUntilAsync(p => p.Text.Length >= text.Length, TimeSpan.FromSeconds(10));
        var received = progress.Received;
        Assert.Equal(text, progress.Text);
        Assert.Equal(Enumerable.Range(1, received.Count).Select(i => (float)i), received.Select(r => r.Params.Progress.Progress));
        Assert.Equal(structured.GetProperty("stream_id").GetString(), received[0].Params.Meta?["tokenflow/stream_id"]?.GetValue<string>());

        using var response = await server.Client.PostAsJsonAsync("/v1/chat/completions", new { model = "sim", messages = UserMessage, max_tokens = 40, seed = 7 });
        var completion = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(completion.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(), text);
    }

    [Fact]
    public async Task Generate_with_a_prompt_and_no_model_uses_the_default_model()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await McpTestClient.ConnectAsync(server);

        var result = await client.CallAsync("generate", new { prompt = "Once", max_tokens = 5, seed = 3, stop = new[] { "zzz" } });

        var structured = result.Structured();
        Assert.Equal(SimBackend.ExpectedText(3, 5), structured.GetProperty("text").GetString());
        Assert.StartsWith("cmpl-", structured.GetProperty("stream_id").GetString());
    }

    [Fact]
    public async Task Start_read_and_cancel_act_on_a_running_stream_that_http_readers_see_too()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await McpTestClient.ConnectAsync(server);

        var started = await client.CallAsync("start_generation", new { model = "sim", messages = UserMessage, max_tokens = 100_000, seed = 5, sim_tokens_per_second = 200 });
        var id = started.Structured().GetProperty("stream_id").GetString()!;
        Assert.Contains(started.Content, c => c is ResourceLinkBlock link && link.Uri == $"tokenflow://streams/{id}");

        // Partial text grows between reads; each read continues where the last one stopped.
        var text = string.Empty;
        var after = 0L;
        for (var i = 0; i < 3; i++)
        {
            var read = (await client.CallAsync("read_stream", new { stream_id = id, after, wait_ms = 5_000 })).Structured();
            var piece = read.GetProperty("text").GetString()!;
            Assert.NotEmpty(piece);
            Assert.Equal("running", read.GetProperty("status").GetString());
            Assert.True(read.GetProperty("last_seq").GetInt64() > after);
            after = read.GetProperty("last_seq").GetInt64();
            text += piece;
        }

        var cancelled = (await client.CallAsync("cancel_stream", new { stream_id = id })).Structured();
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
        var generated = cancelled.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
        Assert.InRange(generated, 1, 99_999);

        var whole = (await client.CallAsync("read_stream", new { stream_id = id })).Structured();
        Assert.Equal("cancelled", whole.GetProperty("status").GetString());
        Assert.Equal(cancelled.GetProperty("last_seq").GetInt64(), whole.GetProperty("last_seq").GetInt64());
        var all = whole.GetProperty("text").GetString()!;
        Assert.StartsWith(text, all);
        Assert.Equal(SimBackend.ExpectedText(5, generated), all);

        // Read past the end: nothing new, at once, and the final status.
        var end = (await client.CallAsync("read_stream", new { stream_id = id, after = whole.GetProperty("last_seq").GetInt64(), wait_ms = 10_000 })).Structured();
        Assert.Equal(string.Empty, end.GetProperty("text").GetString());
        Assert.Equal("cancelled", end.GetProperty("status").GetString());

        // The same stream over HTTP.
        using var response = await server.Client.GetAsync($"/v1/streams/{id}/events", HttpCompletionOption.ResponseHeadersRead);
        var events = await SseEvent.ReadAllAsync(await response.Content.ReadAsStreamAsync());
        Assert.Equal(all, string.Concat(events.Select(e => e.Text)));
        Assert.Contains(events, e => e.Data.Contains("\"finish_reason\":\"cancelled\"", StringComparison.Ordinal));

        // And as the resource.
        var resource = await client.ReadResourceAsync($"tokenflow://streams/{id}");
        Assert.Equal(all, Assert.IsType<TextResourceContents>(Assert.Single(resource.Contents)).Text);
    }

    [Fact]
    public async Task A_started_stream_runs_to_its_end_with_nobody_reading()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:Streams:ResumeGrace", "00:00:00"]);
        await using var client = await McpTestClient.ConnectAsync(server);

        var id = (await client.CallAsync("start_generation", new { model = "sim", prompt = "x", max_tokens = 30, seed = 1, sim_tokens_per_second = 300 })).Structured().GetProperty("stream_id").GetString()!;
        var status = await CancellationTests.WaitForEndAsync(server.GetService<Core.Streams.IStreamStore>(), id, TimeSpan.FromSeconds(20));
        Assert.Equal(Core.Streams.StreamState.Completed, status.State);

        var read = (await client.CallAsync("read_stream", new { stream_id = id, after = 0, wait_ms = 0 })).Structured();
        Assert.Equal(SimBackend.ExpectedText(1, 30), read.GetProperty("text").GetString());
        Assert.Equal("completed", read.GetProperty("status").GetString());
    }

    public static TheoryData<string, string, string> BadArguments => new()
    {
        { "generate", """{"prompt":"hi","max_tokens":"many"}""", "'max_tokens' must be an integer (got \"many\")" },
        { "generate", """{"prompt":"hi","max_tokens":0}""", "'max_tokens' must be between 1 and" },
        { "generate", """{"prompt":"hi","temperature":9}""", "'temperature' must be between 0 and 2" },
        { "generate", """{"prompt":"hi","seed":"x"}""", "'seed' must be an integer" },
        { "generate", """{"prompt":"hi","stop":[1]}""", "'stop' must be a string or an array of strings" },
        { "generate", """{"prompt":"hi","model":"nope"}""", "Unknown model 'nope'. Served here: sim" },
        { "generate", """{"prompt":42}""", "'prompt' must be a string (got 42)" },
        { "generate", """{}""", "Give 'prompt' (text to continue) or 'messages'" },
        { "generate", """{"prompt":"a","messages":[{"role":"user","content":"b"}]}""", "not both" },
        { "generate", """{"messages":[{"role":"robot","content":"b"}]}""", "'messages[0].role' must be one of" },
        { "generate", """{"messages":"hello"}""", "'messages' must be an array" },
        { "generate", """{"prompt":"hi","maxTokens":5}""", "Unknown argument 'maxTokens'" },
        { "start_generation", """{"prompt":"hi","sim_tokens_per_second":-1}""", "'sim_tokens_per_second' must be 0 or more" },
        { "read_stream", """{}""", "'stream_id' is required" },
        { "read_stream", """{"stream_id":"x","wait_ms":60000}""", "'wait_ms' must be between 0 and 30000 (got 60000)" },
        { "read_stream", """{"stream_id":"x","after":-1}""", "'after' must be between 0 and" },
        { "cancel_stream", """{"stream_id":7}""", "'stream_id' must be a string (got 7)" },
    };

    [Theory]
    [MemberData(nameof(BadArguments))]
    public async Task Bad_arguments_are_tool_errors_that_say_what_is_wrong(string tool, string arguments, string message)
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await McpTestClient.ConnectAsync(server);

        var result = await client.CallToolAsync(tool, JsonSerializer.Deserialize<Dictionary<string, object?>>(arguments)!);

        Assert.True(result.IsError);
        Assert.Contains(message, result.Text(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_stream_ids_are_tool_errors_and_missing_resources()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await McpTestClient.ConnectAsync(server);
        const string id = "chatcmpl-0000000000000000000000";

        foreach (var tool in new[] { "read_stream", "cancel_stream" })
        {
            var result = await client.CallAsync(tool, new { stream_id = id });
            Assert.True(result.IsError);
            Assert.Contains($"No stream '{id}'", result.Text(), StringComparison.Ordinal);
        }

        var error = await Assert.ThrowsAsync<McpProtocolException>(() => client.ReadResourceAsync($"tokenflow://streams/{id}").AsTask());
        Assert.Equal(McpErrorCode.ResourceNotFound, error.ErrorCode);
    }

    [Fact]
    public async Task A_stream_is_visible_only_to_the_api_key_that_started_it()
    {
        await using var server = await TestServer.StartAsync(["--Tokenflow:ApiKeys:0", "key-one", "--Tokenflow:ApiKeys:1", "key-two"]);
        await using var one = await McpTestClient.ConnectAsync(server, "key-one");
        await using var two = await McpTestClient.ConnectAsync(server, "key-two");

        var id = (await one.CallAsync("start_generation", new { model = "sim", prompt = "x", max_tokens = 5, seed = 1 })).Structured().GetProperty("stream_id").GetString()!;

        Assert.True((await two.CallAsync("read_stream", new { stream_id = id })).IsError);
        Assert.True((await two.CallAsync("cancel_stream", new { stream_id = id })).IsError);
        var read = (await one.CallAsync("read_stream", new { stream_id = id, wait_ms = 1000 })).Structured();
        Assert.NotEmpty(read.GetProperty("text").GetString()!);
        var descriptor = await server.GetService<Core.Streams.IStreamStore>().GetDescriptorAsync(id, default);
        Assert.Equal(Server.Hosting.ApiKeys.OwnerId("key-one"), descriptor!.Owner);
    }
}
