using System.Text;
using Tokenflow.Cli.Bench;

namespace Tokenflow.Cli.Tests.Bench;

public sealed class SseScannerTests
{
    private const string Stream =
        "id: 1\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"}}]}\n\n" +
        ": ping\n\n" +
        "id: 2\r\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\": \"lo \\\"x\\\"\"}}]}\r\n\r\n" +
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"}}]}\n\n" +
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\n" +
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n" +
        "data: [DONE]\n\n";

    [Fact]
    public void Counts_tokens_usage_and_the_end_across_every_split_of_the_bytes()
    {
        var bytes = Encoding.UTF8.GetBytes(Stream);
        using var scanner = new SseScanner();
        for (var split = 0; split <= bytes.Length; split++)
        {
            scanner.Reset();
            var a = scanner.Scan(bytes.AsSpan(0, split));
            var b = scanner.Scan(bytes.AsSpan(split));
            Assert.Equal(2, a.TokenEvents + b.TokenEvents);
            Assert.Equal(2, Math.Max(a.UsageTokens, b.UsageTokens));
            Assert.True(a.Done || b.Done);
            Assert.False(a.Error || b.Error);
        }
    }

    [Fact]
    public void An_error_event_is_reported()
    {
        using var scanner = new SseScanner();
        var scan = scanner.Scan("id: 4\nevent: error\ndata: {\"error\":{\"message\":\"boom\",\"content\":\"x\"}}\n\n"u8);
        Assert.True(scan.Error);
        Assert.Equal(0, scan.TokenEvents);
    }
}
