using Microsoft.Extensions.Options;
using Tokenflow.Server.Hosting;

namespace Tokenflow.Server.Tests.Hosting;

public sealed class OptionsValidationTests
{
    [Theory]
    [InlineData("Tokenflow:Streams:ResumeGrace", "-00:00:01")]
    [InlineData("Tokenflow:Streams:CompletedTtl", "-00:00:01")]
    [InlineData("Tokenflow:Streams:SweepInterval", "00:00:00")]
    [InlineData("Tokenflow:HeartbeatInterval", "-00:00:01")]
    [InlineData("Tokenflow:HeartbeatInterval", "00:00:00")]
    [InlineData("Tokenflow:MaxResumeGrace", "-00:00:01")]
    [InlineData("Tokenflow:Durable:LongPollTimeout", "00:00:00")]
    [InlineData("Tokenflow:Durable:SseConnectionLifetime", "-00:00:01")]
    [InlineData("Tokenflow:ModelDownload:StallTimeout", "00:00:00")]
    [InlineData("Tokenflow:MaxTokensLimit", "0")]
    [InlineData("Tokenflow:Streams:MaxRunningStreams", "0")]
    public async Task A_bad_setting_fails_start_with_a_message_naming_it(string setting, string value)
    {
        // The embedded model is on so that the model downloader (and its options) are registered. Some options
        // are already read while the app is built (Kestrel's limits, the services MapMcp resolves), so the
        // failure may come from Build or from StartAsync: either way the server does not start.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var error = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            var app = TokenflowApp.Build(["--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default", "None", "--Tokenflow:EmbeddedModel", "true", $"--{setting}", value]);
            await using (app)
            {
                await app.StartAsync(timeout.Token);
            }
        });
        var name = setting[(setting.LastIndexOf(':') + 1)..];
        Assert.Contains(name, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Default_settings_pass_validation()
    {
        await using var server = await TestServer.StartAsync();
        using var response = await server.Client.GetAsync("/v1/models");
        Assert.True(response.IsSuccessStatusCode);
    }
}
