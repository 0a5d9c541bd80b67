using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tokenflow.Core;
using Tokenflow.Core.Backends;

namespace Tokenflow.LlamaCpp;

/// <summary>Registers local GGUF models in a service collection.</summary>
public static class LlamaCppServiceCollectionExtensions
{
    /// <summary>
    /// Adds the model <paramref name="modelId"/>, run by a <see cref="LlamaCppBackend"/> from
    /// <paramref name="modelPathOrHfRef"/> (a .gguf path, or <c>hf:&lt;owner&gt;/&lt;repo&gt;/&lt;file&gt;.gguf</c>):
    /// its <see cref="ModelEntry"/> (owned by "tokenflow", with the context length when known), the backend
    /// as a keyed singleton (key = <paramref name="modelId"/>), a hosted service that loads and warms it up
    /// at start-up, and the <see cref="ModelDownloader"/>. Options come from the configuration section
    /// <see cref="LlamaCppOptions.SectionName"/> (as the named options <paramref name="modelId"/>), then
    /// <paramref name="configure"/>, and are validated at start-up.
    /// </summary>
    /// <exception cref="FormatException"><paramref name="modelPathOrHfRef"/> is a malformed <c>hf:</c> reference.</exception>
    public static ITokenflowBuilder AddLlamaCpp(
        this ITokenflowBuilder builder, string modelId, string modelPathOrHfRef, Action<LlamaCppOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        ArgumentException.ThrowIfNullOrWhiteSpace(modelId);
        var reference = ModelReference.Parse(modelPathOrHfRef);

        var options = services.AddOptions<LlamaCppOptions>(modelId).BindConfiguration(LlamaCppOptions.SectionName);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateDataAnnotations().ValidateOnStart();
        AddModelDownloader(services);

        services.AddKeyedSingleton(modelId, (sp, _) => new LlamaCppBackend(
            reference,
            sp.GetRequiredService<IOptionsMonitor<LlamaCppOptions>>().Get(modelId),
            sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance,
            sp.GetRequiredService<ModelDownloader>()));
        services.AddSingleton(sp =>
        {
            var backend = sp.GetRequiredKeyedService<LlamaCppBackend>(modelId);
            return new ModelEntry(modelId, "tokenflow", backend) { ContextLength = backend.ContextLength };
        });
        services.AddSingleton<IHostedService>(sp => new LlamaCppStartupService(sp.GetRequiredKeyedService<LlamaCppBackend>(modelId)));
        return builder;
    }

    /// <summary>
    /// Adds the <see cref="ModelDownloader"/> (a singleton on the named <see cref="HttpClient"/>
    /// <see cref="ModelDownloader.HttpClientName"/>) with options from <see cref="ModelDownloadOptions.SectionName"/>.
    /// Called by <see cref="AddLlamaCpp"/>; idempotent.
    /// </summary>
    public static IServiceCollection AddModelDownloader(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (services.Any(d => d.ServiceType == typeof(ModelDownloader)))
        {
            return services;
        }

        services.AddOptions<ModelDownloadOptions>()
            .BindConfiguration(ModelDownloadOptions.SectionName)
            .Validate(o => o.StallTimeout > TimeSpan.Zero, $"{ModelDownloadOptions.SectionName}:{nameof(ModelDownloadOptions.StallTimeout)} must be positive.")
            .ValidateOnStart();

        // No overall timeout: a model download takes minutes; ModelDownloadOptions.StallTimeout bounds silence instead.
        services.AddHttpClient(ModelDownloader.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan);
        services.TryAddSingleton(sp => new ModelDownloader(
            sp.GetRequiredService<IHttpClientFactory>().CreateClient(ModelDownloader.HttpClientName),
            sp.GetRequiredService<IOptions<ModelDownloadOptions>>().Value,
            sp.GetService<ILogger<ModelDownloader>>()));
        return services;
    }
}
