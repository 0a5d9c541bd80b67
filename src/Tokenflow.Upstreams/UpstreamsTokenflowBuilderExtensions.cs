using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tokenflow.Core;
using Tokenflow.Core.Backends;

namespace Tokenflow.Upstreams;

/// <summary>Adds upstream providers and host <see cref="IChatClient"/>s as Tokenflow backends.</summary>
public static class UpstreamsTokenflowBuilderExtensions
{
    /// <summary>
    /// Adds the upstreams configured under <c>Tokenflow:Upstreams:&lt;name&gt;</c> (<see cref="UpstreamOptions"/>,
    /// validated at start-up), then <paramref name="configure"/>, as a model router: <c>&lt;name&gt;/&lt;id&gt;</c>
    /// goes to upstream <c>&lt;name&gt;</c>; bare ids matching an upstream's <c>Models</c> go to every matching
    /// upstream in failover order (priority, then configuration order), after the local models.
    /// Idempotent; later calls add more configuration.
    /// </summary>
    public static ITokenflowBuilder AddUpstreams(this ITokenflowBuilder builder, Action<UpstreamsOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (configure is not null)
        {
            services.Configure(configure);
        }

        if (services.Any(d => d.ServiceType == typeof(UpstreamRouter)))
        {
            return builder;
        }

        services.AddOptions<UpstreamsOptions>().BindConfiguration(UpstreamsOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<UpstreamsOptions>, UpstreamsOptionsValidation>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new UpstreamRouter(
            sp.GetRequiredService<IOptions<UpstreamsOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance));
        services.AddSingleton<IModelRouter>(sp => sp.GetRequiredService<UpstreamRouter>());
        return builder;
    }

    /// <summary>Adds one upstream named <paramref name="name"/> in code (as if configured under <c>Tokenflow:Upstreams:&lt;name&gt;</c>).</summary>
    public static ITokenflowBuilder AddUpstream(this ITokenflowBuilder builder, string name, Action<UpstreamOptions> configure)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configure);
        return builder.AddUpstreams(o =>
        {
            if (!o.Upstreams.TryGetValue(name, out var upstream))
            {
                o.Upstreams[name] = upstream = new UpstreamOptions();
            }

            configure(upstream);
        });
    }

    /// <summary>
    /// Serves <paramref name="client"/> as the local model <paramref name="modelId"/>: requests for that id
    /// stream from it, with its usage and finish reason. <paramref name="upstreamModelId"/>, when given, is
    /// set as <see cref="ChatOptions.ModelId"/>.
    /// </summary>
    public static ITokenflowBuilder AddChatClient(this ITokenflowBuilder builder, string modelId, IChatClient client, string? upstreamModelId = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        return builder.AddChatClient(modelId, _ => client, upstreamModelId);
    }

    /// <summary>As <see cref="AddChatClient(ITokenflowBuilder, string, IChatClient, string?)"/>, with the client made from the service provider.</summary>
    public static ITokenflowBuilder AddChatClient(this ITokenflowBuilder builder, string modelId, Func<IServiceProvider, IChatClient> factory, string? upstreamModelId = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelId);
        ArgumentNullException.ThrowIfNull(factory);
        builder.Services.AddSingleton(sp => new ModelEntry(modelId, "host", new ChatClientBackend(factory(sp), upstreamModelId)) { BackendLimitsTokens = true });
        return builder;
    }
}
