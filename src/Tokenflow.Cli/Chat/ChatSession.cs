using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Tokenflow.Client;

namespace Tokenflow.Cli.Chat;

/// <summary>One <c>chat</c> run: a single prompt, or an interactive conversation read line by line.</summary>
internal sealed class ChatSession(CliConsole console, ChatSettings settings)
{
    /// <summary>The exit code of a run stopped with Ctrl-C (128 + SIGINT), as shells expect.</summary>
    private const int Interrupted = 130;

    private readonly List<ChatRequestMessage> _messages = [];

    public async Task<int> RunAsync(string? prompt, CancellationToken cancellationToken)
    {
        using var client = new TokenflowClient(settings.Url, new TokenflowClientOptions { ApiKey = settings.ApiKey });
        try
        {
            var model = settings.Model ?? await DefaultModelAsync(client, cancellationToken);
            Reset();
            if (prompt is not null)
            {
                var turn = await RunTurnAsync(client, model, prompt, cancellationToken);
                return turn.Cancelled ? Interrupted : 0;
            }

            console.Error.WriteLine($"tokenflow chat — {model} at {settings.Url.ToString().TrimEnd('/')}. Enter a message; /reset starts over, /exit or Ctrl-D quits. Ctrl-C stops an answer.");
            while (!cancellationToken.IsCancellationRequested)
            {
                if (!settings.Json)
                {
                    console.Out.Write("> ");
                    console.Out.Flush();
                }

                var line = await console.In.ReadLineAsync(cancellationToken);
                if (line is null || line.Trim() is "/exit" or "/quit")
                {
                    break;
                }

                if (line.Trim() == "/reset")
                {
                    Reset();
                    continue;
                }

                if (line.Length > 0)
                {
                    await RunTurnAsync(client, model, line, cancellationToken);
                }
            }

            return 0;
        }
        catch (TokenflowException ex)
        {
            await console.Error.WriteLineAsync($"error: {ex.Message}");
            return 1;
        }
        catch (HttpRequestException ex)
        {
            await console.Error.WriteLineAsync($"error: cannot reach {settings.Url}: {ex.Message}");
            return 1;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Interrupted;
        }
    }

    private static async Task<string> DefaultModelAsync(TokenflowClient client, CancellationToken cancellationToken)
    {
        var models = await client.GetModelsAsync(cancellationToken);
        return models.Count > 0 ? models[0] : throw new TokenflowException("The server lists no models; pass --model.");
    }

    private void Reset()
    {
        _messages.Clear();
        if (settings.System is { Length: > 0 } system)
        {
            _messages.Add(ChatRequestMessage.System(system));
        }
    }

    private async Task<TurnResult> RunTurnAsync(TokenflowClient client, string model, string prompt, CancellationToken cancellationToken)
    {
        _messages.Add(ChatRequestMessage.User(prompt));
        var request = new ChatRequest { Model = model, Messages = [.. _messages], MaxTokens = settings.MaxTokens, Temperature = settings.Temperature, Seed = settings.Seed };
        foreach (var (name, value) in settings.Extra ?? [])
        {
            request.AdditionalProperties[name] = value?.DeepClone();
        }

        // Ctrl-C cancels this answer only; leaving the enumeration cancels the stream on the server.
        using var turn = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var interrupt = console.OnInterrupt(turn.Cancel);
        var result = new TurnResult();
        var text = new StringBuilder();
        var start = Stopwatch.GetTimestamp();
        long firstToken = 0, lastToken = 0;
        var deltas = 0;
        try
        {
            await foreach (var e in client.StreamChatAsync(request, turn.Token))
            {
                result.StreamId ??= e.StreamId;
                if (!string.IsNullOrEmpty(e.Text))
                {
                    lastToken = Stopwatch.GetTimestamp();
                    firstToken = firstToken == 0 ? lastToken : firstToken;
                    deltas++;
                    text.Append(e.Text);
                    if (!settings.Json)
                    {
                        await console.Out.WriteAsync(e.Text);
                        await console.Out.FlushAsync(CancellationToken.None);
                    }
                }

                result.FinishReason = e.FinishReason ?? result.FinishReason;
                result.Usage = e.Usage ?? result.Usage;
            }
        }
        catch (OperationCanceledException) when (turn.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            result.Cancelled = true;
            result.FinishReason = "cancelled";
        }

        var end = Stopwatch.GetTimestamp();
        result.Text = text.ToString();
        result.Tokens = result.Usage?.CompletionTokens ?? deltas;
        result.TimeToFirstToken = firstToken == 0 ? null : Stopwatch.GetElapsedTime(start, firstToken);
        result.Elapsed = Stopwatch.GetElapsedTime(start, end);

        // Decode speed: tokens after the first over the time they took (the first token's wait is TTFT).
        var decoding = firstToken == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(firstToken, lastToken);
        result.TokensPerSecond = result.Tokens > 1 && decoding > TimeSpan.FromMilliseconds(1)
            ? (result.Tokens - 1) / decoding.TotalSeconds
            : result.Tokens / Math.Max(result.Elapsed.TotalSeconds, 1e-6);

        if (!result.Cancelled)
        {
            _messages.Add(ChatRequestMessage.Assistant(result.Text));
        }
        else
        {
            _messages.RemoveAt(_messages.Count - 1);
        }

        if (settings.Json)
        {
            await console.Out.WriteLineAsync(ToJson(model, result));
        }
        else
        {
            await console.Out.WriteLineAsync();
            await console.Error.WriteLineAsync(Summary(result));
        }

        await console.Out.FlushAsync(CancellationToken.None);
        return result;
    }

    internal static string Summary(TurnResult result)
    {
        var c = CultureInfo.InvariantCulture;
        var ttft = result.TimeToFirstToken is { } t ? string.Create(c, $"{t.TotalMilliseconds:0.#} ms") : "–";
        var parts = new List<string>
        {
            $"TTFT {ttft}",
            string.Create(c, $"{result.Tokens:N0} tokens"),
            string.Create(c, $"{result.TokensPerSecond:N1} tokens/s"),
            string.Create(c, $"{result.Elapsed.TotalSeconds:0.00} s"),
            $"finish {result.FinishReason ?? "–"}",
        };
        if (result.Cancelled)
        {
            parts.Add("cancelled on the server");
        }

        return $"[{string.Join(" · ", parts)}{(result.StreamId is null ? string.Empty : $" · {result.StreamId}")}]";
    }

    private static string ToJson(string model, TurnResult result)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("model", model);
            w.WriteString("stream_id", result.StreamId);
            w.WriteString("text", result.Text);
            w.WriteString("finish_reason", result.FinishReason);
            w.WriteBoolean("cancelled", result.Cancelled);
            if (result.TimeToFirstToken is { } ttft)
            {
                w.WriteNumber("ttft_ms", Math.Round(ttft.TotalMilliseconds, 3));
            }
            else
            {
                w.WriteNull("ttft_ms");
            }

            w.WriteNumber("tokens", result.Tokens);
            w.WriteNumber("tokens_per_second", Math.Round(result.TokensPerSecond, 1));
            w.WriteNumber("elapsed_ms", Math.Round(result.Elapsed.TotalMilliseconds, 3));
            if (result.Usage is { } usage)
            {
                w.WriteStartObject("usage");
                w.WriteNumber("prompt_tokens", usage.PromptTokens);
                w.WriteNumber("completion_tokens", usage.CompletionTokens);
                w.WriteNumber("total_tokens", usage.TotalTokens);
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>What one answer came to.</summary>
    internal sealed class TurnResult
    {
        public string? StreamId { get; set; }

        public string Text { get; set; } = string.Empty;

        public string? FinishReason { get; set; }

        public ChatUsage? Usage { get; set; }

        public bool Cancelled { get; set; }

        public int Tokens { get; set; }

        public TimeSpan? TimeToFirstToken { get; set; }

        public TimeSpan Elapsed { get; set; }

        public double TokensPerSecond { get; set; }
    }
}
