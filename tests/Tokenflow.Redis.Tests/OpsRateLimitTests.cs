using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Tokenflow.Redis.Tests;

/// <summary>Rate limits counted in Redis: every process sharing it counts against the same limit.</summary>
public sealed class OpsRateLimitTests
{
    [Fact]
    public async Task Two_processes_on_one_Redis_share_a_request_limit()
    {
        var redis = await RedisServer.Shared;
        string[] args =
        [
            "--Tokenflow:Redis:KeyPrefix", $"rl{Guid.NewGuid():N}:", "--Tokenflow:RateLimits:RequestsPerMinute", "2",
            "--Tokenflow:ApiKeys:0", "sk-0", "--Tokenflow:ApiKeys:1", "sk-1", "--Tokenflow:ApiKeys:2", "sk-2",
        ];
        await using var a = await ServerProcess.StartAsync(redis.Configuration, args);
        await using var b = await ServerProcess.StartAsync(redis.Configuration, args);

        // Each round, a fresh key makes A, B, A, B requests: two per process, so counted per process all four
        // pass; counted together the last two are refused. A round cut by a window boundary (rare: windows
        // are a minute) may pass more, so up to three rounds.
        var rounds = new List<string>();
        for (var round = 0; round < 3; round++)
        {
            var statuses = new List<HttpStatusCode>();
            string? refusal = null;
            for (var i = 0; i < 4; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
                {
                    Content = SseEvent.Body(new { model = "sim", messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 1 }),
                };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", $"sk-{round}");
                using var response = await (i % 2 == 0 ? a : b).Client.SendAsync(request);
                statuses.Add(response.StatusCode);
                if (response.StatusCode == HttpStatusCode.TooManyRequests)
                {
                    Assert.True(response.Headers.Contains("Retry-After"));
                    refusal ??= await response.Content.ReadAsStringAsync();
                }
            }

            rounds.Add(string.Join(", ", statuses));
            if (statuses.SequenceEqual([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests]))
            {
                Assert.Equal("rate_limit_exceeded", JsonDocument.Parse(refusal!).RootElement.GetProperty("error").GetProperty("code").GetString());
                return;
            }
        }

        Assert.Fail("No round was limited across the processes: " + string.Join(" | ", rounds));
    }
}
