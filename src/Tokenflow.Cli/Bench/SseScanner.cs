using System.Buffers;
using System.Buffers.Text;

namespace Tokenflow.Cli.Bench;

/// <summary>
/// Counts tokens in a streamed response straight from its bytes, without decoding JSON. OpenAI chat completions:
/// each <c>data:</c> line whose <c>content</c> (or <c>text</c>) is a non-empty string is one token event,
/// <c>completion_tokens</c> comes from the usage chunk, <c>[DONE]</c> and <c>event: error</c> end it. Anthropic
/// Messages: each <c>content_block_delta</c> with a <c>text_delta</c>, <c>output_tokens</c>, ended by
/// <c>message_stop</c> (or <c>error</c>). OpenAI Responses: each <c>response.output_text.delta</c>,
/// <c>output_tokens</c>, ended by <c>response.completed</c> / <c>response.incomplete</c> (or <c>response.failed</c>,
/// <c>error</c>). Lines cut between reads are carried over in a pooled buffer. One instance per worker, reused per request.
/// </summary>
internal sealed class SseScanner : IDisposable
{
    private readonly SseFormat _format;
    private byte[] _carry = ArrayPool<byte>.Shared.Rent(4096);
    private int _carryLength;
    private bool _errorEvent;
    private EventName _event;

    public SseScanner(SseFormat format = SseFormat.ChatCompletions)
    {
        _format = format;
    }

    private enum EventName
    {
        None,
        Error,
        Token,
        Done,
        Other,
    }

    /// <summary>Prepares for a new response.</summary>
    public void Reset()
    {
        _carryLength = 0;
        _errorEvent = false;
        _event = EventName.None;
    }

    /// <summary>Scans one read's bytes.</summary>
    public SseScan Scan(ReadOnlySpan<byte> data)
    {
        var scan = new SseScan { UsageTokens = -1 };
        while (!data.IsEmpty)
        {
            var newline = data.IndexOf((byte)'\n');
            if (newline < 0)
            {
                Carry(data);
                break;
            }

            if (_carryLength > 0)
            {
                Carry(data[..newline]);
                Line(_carry.AsSpan(0, _carryLength), ref scan);
                _carryLength = 0;
            }
            else
            {
                Line(data[..newline], ref scan);
            }

            data = data[(newline + 1)..];
        }

        return scan;
    }

    public void Dispose() => ArrayPool<byte>.Shared.Return(_carry);

    internal static bool HasContent(ReadOnlySpan<byte> payload)
    {
        var at = payload.IndexOf("\"content\":"u8);
        var key = 10;
        if (at < 0)
        {
            at = payload.IndexOf("\"text\":"u8);
            key = 7;
            if (at < 0)
            {
                return false;
            }
        }

        var value = payload[(at + key)..].TrimStart((byte)' ');
        return value.Length >= 2 && value[0] == (byte)'"' && value[1] != (byte)'"';
    }

    internal static int CompletionTokens(ReadOnlySpan<byte> payload) => Count(payload, "\"completion_tokens\":"u8);

    internal static int Count(ReadOnlySpan<byte> payload, ReadOnlySpan<byte> key)
    {
        var at = payload.IndexOf(key);
        if (at < 0)
        {
            return -1;
        }

        var value = payload[(at + key.Length)..].TrimStart((byte)' ');
        return Utf8Parser.TryParse(value, out int tokens, out _) ? tokens : -1;
    }

    private void NamedEventLine(ReadOnlySpan<byte> line, ref SseScan scan)
    {
        if (line.StartsWith("event:"u8))
        {
            var name = line[6..].Trim((byte)' ');
            _event = _format == SseFormat.AnthropicMessages
                ? name.SequenceEqual("content_block_delta"u8) ? EventName.Token
                    : name.SequenceEqual("message_stop"u8) ? EventName.Done
                    : name.SequenceEqual("error"u8) ? EventName.Error : EventName.Other
                : name.SequenceEqual("response.output_text.delta"u8) ? EventName.Token
                    : name.SequenceEqual("response.completed"u8) || name.SequenceEqual("response.incomplete"u8) ? EventName.Done
                    : name.SequenceEqual("response.failed"u8) || name.SequenceEqual("error"u8) ? EventName.Error : EventName.Other;
            return;
        }

        if (!line.StartsWith("data:"u8))
        {
            return;
        }

        var payload = line[5..];
        switch (_event)
        {
            case EventName.Token when _format == SseFormat.Responses || payload.IndexOf("\"text_delta\""u8) >= 0:
                scan.TokenEvents++;
                break;
            case EventName.Done:
                scan.Done = true;
                break;
            case EventName.Error:
                scan.Error = true;
                break;
        }

        var usage = Count(payload, "\"output_tokens\":"u8);
        if (usage >= 0)
        {
            scan.UsageTokens = usage;
        }
    }

    private void Line(ReadOnlySpan<byte> line, ref SseScan scan)
    {
        if (!line.IsEmpty && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        if (line.IsEmpty)
        {
            _errorEvent = false;
            _event = EventName.None;
            return;
        }

        if (_format != SseFormat.ChatCompletions)
        {
            NamedEventLine(line, ref scan);
            return;
        }

        if (line.StartsWith("data:"u8))
        {
            var payload = line[5..].TrimStart((byte)' ');
            if (_errorEvent)
            {
                scan.Error = true;
            }
            else if (payload.SequenceEqual("[DONE]"u8))
            {
                scan.Done = true;
            }
            else
            {
                if (HasContent(payload))
                {
                    scan.TokenEvents++;
                }

                var usage = CompletionTokens(payload);
                if (usage >= 0)
                {
                    scan.UsageTokens = usage;
                }
            }
        }
        else if (line.StartsWith("event:"u8))
        {
            _errorEvent = line[6..].Trim((byte)' ').SequenceEqual("error"u8);
        }
    }

    private void Carry(ReadOnlySpan<byte> data)
    {
        if (_carryLength + data.Length > _carry.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_carry.Length * 2, _carryLength + data.Length));
            _carry.AsSpan(0, _carryLength).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_carry);
            _carry = larger;
        }

        data.CopyTo(_carry.AsSpan(_carryLength));
        _carryLength += data.Length;
    }
}

/// <summary>What one read of a response held.</summary>
internal struct SseScan
{
    /// <summary>Chunks with non-empty text: one token each, as OpenAI-compatible servers send them.</summary>
    public int TokenEvents;

    /// <summary><c>completion_tokens</c> of a usage chunk; -1 when none was seen.</summary>
    public int UsageTokens;

    public bool Done;

    public bool Error;
}

/// <summary>The streamed wire format a <see cref="SseScanner"/> reads.</summary>
internal enum SseFormat
{
    /// <summary>OpenAI chat completions chunks.</summary>
    ChatCompletions,

    /// <summary>Anthropic Messages events.</summary>
    AnthropicMessages,

    /// <summary>OpenAI Responses events.</summary>
    Responses,
}
