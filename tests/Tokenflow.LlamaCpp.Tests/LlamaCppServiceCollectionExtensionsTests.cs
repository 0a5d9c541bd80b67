using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Backends;
using Tokenflow.Core.Generation;
using Tokenflow.LlamaCpp.Tests.Backend;

namespace Tokenflow.LlamaCpp.Tests;

public sealed class LlamaCppServiceCollectionExtensionsTests : IDisposable
{
    private readonly string _model = SyntheticGguf.Write(SyntheticGguf.LetterA);

    public void Dispose() => File.Delete(_model);

    [Fact]
    public async Task Host_registers_the_model_loads_it_at_start_and_serves_it()
    {
        using var host = BuildHost("synthetic", _model, o => o.ContextSize = 64, ("Tokenflow:LlamaCpp:MaxConcurrentSequences", "2"));

        await host.StartAsync();
        var backend = host.Services.GetRequiredKeyedService<LlamaCppBackend>("synthetic");
        Assert.True(host.Services.GetRequiredService<ModelCatalog>().TryGet("synthetic", out var entry));
        await backend.LoadAsync();
        var result = await LlamaCppBackendTests.GenerateAsync(entry.Backend, new BackendRequest { Model = "synthetic", Prompt = "a", MaxTokens = 3, Temperature = 0 });
        await host.StopAsync();

        Assert.Same(backend, entry.Backend);
        Assert.Equal("tokenflow", entry.OwnedBy);
        Assert.Equal(64, entry.ContextLength);
        Assert.Equal(2, host.Services.GetRequiredService<IOptionsMonitor<LlamaCppOptions>>().Get("synthetic").MaxConcurrentSequences);
        Assert.Equal("aaa", result.Text);
    }

    [Fact]
    public void Model_entry_reports_the_trained_context_from_the_gguf()
    {
        using var host = BuildHost("synthetic", _model);

        Assert.True(host.Services.GetRequiredService<ModelCatalog>().TryGet("synthetic", out var entry));

        Assert.Equal(SyntheticGguf.ContextLength, entry.ContextLength);
        Assert.False(host.Services.GetRequiredKeyedService<LlamaCppBackend>("synthetic").IsLoaded);
    }

    [Fact]
    public async Task Missing_model_file_fails_the_host_start_clearly()
    {
        var missing = Path.Join(Path.GetTempPath(), "tokenflow-missing-model.gguf");
        using var host = BuildHost("missing", missing);

        var error = await Assert.ThrowsAsync<FileNotFoundException>(() => host.StartAsync());

        Assert.Contains("Model file missing", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_options_fail_the_host_start()
    {
        using var host = BuildHost("synthetic", _model, o => (o.BatchSize, o.MaxConcurrentSequences) = (2, 8));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("BatchSize", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_hf_reference_fails_at_registration()
        => Assert.Throws<FormatException>(() => new ServiceCollection().AddTokenflowCore().AddLlamaCpp("m", "hf:just-a-name.gguf"));

    private static IHost BuildHost(string modelId, string model, Action<LlamaCppOptions>? configure = null, params (string Key, string Value)[] settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(
            settings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value)).Append(KeyValuePair.Create("Tokenflow:LlamaCpp:Threads", (string?)"1")));
        builder.Services.AddTokenflowCore().AddLlamaCpp(modelId, model, configure);
        return builder.Build();
    }
}
