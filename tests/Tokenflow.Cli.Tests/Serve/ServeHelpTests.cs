using System.Reflection;
using Tokenflow.Server.Hosting;

namespace Tokenflow.Cli.Tests.Serve;

public sealed class ServeHelpTests
{
    [Fact]
    public async Task Serve_help_lists_every_setting_with_its_type_default_and_description()
    {
        var (code, run) = await CliRun.RunAsync("serve", "--help");

        Assert.Equal(0, code);
        var help = run.Out;
        Assert.Contains("--urls", help);
        Assert.Contains("Settings (--Section:Key value", help);
        // One setting from each kind of section: server, stream store, Redis, upstreams (by name), MCP, ops.
        Assert.Contains("--Tokenflow:DrainTimeout <d.hh:mm:ss>  [default: 00:00:30]", help);
        Assert.Contains("--Tokenflow:Streams:ResumeGrace <d.hh:mm:ss>  [default: 00:00:03]", help);
        Assert.Contains("--Tokenflow:Redis:Configuration <string>", help);
        Assert.Contains("--Tokenflow:Upstreams:<name>:TtftTimeout <d.hh:mm:ss>  [default: 00:01:00]", help);
        Assert.Contains("--Tokenflow:Upstreams:<name>:Headers:<name> <string>", help);
        Assert.Contains("--Tokenflow:Mcp:SessionMode <Stateless|Stateful|StatefulForInitializeClients>  [default: Stateful]", help);
        Assert.Contains("--Tokenflow:RateLimits:TokensPerMinute <integer>  [default: 0]", help);
        Assert.Contains("--Tokenflow:ApiKeys:<i> <string>", help);
        // Descriptions come from the options' documentation, as plain text.
        Assert.Contains("StackExchange.Redis configuration string", help);
        Assert.Contains("the authentication scheme ApiKeys.Scheme.", help);
        Assert.DoesNotContain("<c>", help);

        // Other commands' help stays as it was.
        var (chatCode, chat) = await CliRun.RunAsync("chat", "--help");
        Assert.Equal(0, chatCode);
        Assert.DoesNotContain("Settings (", chat.Out);
    }

    [Fact]
    public void Every_options_class_with_a_configuration_section_is_listed()
    {
        // An options class names its section in a constant; one added without a line in ServerSettings.Sections
        // would be missing from serve --help.
        var listed = ServerSettings.Sections.Select(s => s.Options).ToHashSet();
        var assemblies = new[] { "Tokenflow.Core", "Tokenflow.Server", "Tokenflow.Redis", "Tokenflow.LlamaCpp", "Tokenflow.Upstreams" }.Select(Assembly.Load);
        var bound = assemblies.SelectMany(a => a.GetTypes())
            .Where(t => t.Name.EndsWith("Options", StringComparison.Ordinal) && t.GetFields(BindingFlags.Public | BindingFlags.Static)
                .Any(f => f.IsLiteral && f.Name is "Section" or "SectionName"))
            .ToList();

        Assert.True(bound.Count >= 9, $"found only {bound.Count} options classes");
        Assert.All(bound, type => Assert.Contains(type, listed));
        Assert.All(ServerSettings.List(), setting => Assert.False(string.IsNullOrWhiteSpace(setting.Description), $"{setting.Key} has no description"));
    }
}
