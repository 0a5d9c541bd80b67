using System.Net;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Tokenflow.Core.Diagnostics;
using Tokenflow.Core.Generation;
using Tokenflow.Redis;
using Tokenflow.Server.Hosting;

namespace Tokenflow.Server.Operations;

/// <summary>Registers and maps the operations endpoints: health, readiness, metrics, and the drain on shutdown.</summary>
public static class OperationsExtensions
{
    /// <summary>
    /// Adds the health checks behind <c>/healthz</c> and <c>/readyz</c>, the graceful drain, and OpenTelemetry
    /// metrics (meter <see cref="TokenflowTelemetry.MeterName"/>, Prometheus and/or OTLP per
    /// <see cref="TelemetryOptions"/>) and traces (OTLP only).
    /// </summary>
    public static IServiceCollection AddTokenflowOperations(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<TelemetryOptions>().BindConfiguration(TelemetryOptions.Section)
            .Validate(o => o.OtlpEndpoint is null || o.OtlpEndpoint.IsAbsoluteUri, $"{TelemetryOptions.Section}:{nameof(TelemetryOptions.OtlpEndpoint)} must be an absolute URL.")
            .Validate(o => o.OtlpProtocol is "grpc" or "http/protobuf", $"{TelemetryOptions.Section}:{nameof(TelemetryOptions.OtlpProtocol)} must be grpc or http/protobuf.")
            .ValidateOnStart();
        services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.Section)
            .Validate(o => o.RequestsPerMinute >= 0, $"{RateLimitOptions.Section}:{nameof(RateLimitOptions.RequestsPerMinute)} must not be negative.")
            .Validate(o => o.TokensPerMinute >= 0, $"{RateLimitOptions.Section}:{nameof(RateLimitOptions.TokensPerMinute)} must not be negative.")
            .Validate(o => o.Window >= TimeSpan.FromMilliseconds(100), $"{RateLimitOptions.Section}:{nameof(RateLimitOptions.Window)} must be at least 100 ms.")
            .ValidateOnStart();
        services.AddHttpContextAccessor();
        services.AddSingleton(sp => new RateLimitCounter(RedisRateLimitCounter.From(sp), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<RateLimits>();
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<RateLimits>((o, limits) =>
        {
            o.GlobalLimiter = new TokenflowRateLimiter(limits);
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = RateLimitResponses.OnRejectedAsync;
        });
        services.AddSingleton<GracefulDrain>();
        services.AddHostedService(sp => sp.GetRequiredService<GracefulDrain>());
        services.AddHealthChecks()
            .AddCheck<ModelsHealthCheck>("models", tags: [HealthEndpoints.ReadyTag])
            .AddCheck<StoreHealthCheck>("store", tags: [HealthEndpoints.ReadyTag])
            .AddCheck<GracefulDrain>("drain", tags: [HealthEndpoints.ReadyTag]);
        services.AddOptions<HostOptions>().Configure<IOptions<TokenflowOptions>>((host, tokenflow) =>
        {
            // Room for the drain, then for the streams it ended to write their terminal events.
            var needed = tokenflow.Value.DrainTimeout + TimeSpan.FromSeconds(15);
            if (host.ShutdownTimeout < needed)
            {
                host.ShutdownTimeout = needed;
            }
        });

        var telemetry = configuration.GetSection(TelemetryOptions.Section).Get<TelemetryOptions>() ?? new TelemetryOptions();
        var otlp = telemetry.OtlpEndpoint is { IsAbsoluteUri: true } ? telemetry.OtlpEndpoint : null;
        if (!telemetry.Prometheus && otlp is null)
        {
            return services;
        }

        var protocol = telemetry.OtlpProtocol == "http/protobuf" ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
        var open = services.AddOpenTelemetry().ConfigureResource(r => r.AddService("tokenflow"));
        open.WithMetrics(metrics =>
        {
            metrics.AddMeter(TokenflowTelemetry.MeterName);
            if (telemetry.Prometheus)
            {
                // No response cache (the exporter's default is 300 ms): a scrape right after a request sees it.
                metrics.AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0);
            }

            if (otlp is not null)
            {
                metrics.AddOtlpExporter(o => (o.Endpoint, o.Protocol) = (otlp, protocol));
            }
        });
        if (otlp is not null)
        {
            open.WithTracing(tracing => tracing.AddSource(TokenflowTelemetry.ActivitySourceName).AddOtlpExporter(o => (o.Endpoint, o.Protocol) = (otlp, protocol)));
        }

        return services;
    }

    /// <summary>
    /// Applies <see cref="RateLimitOptions"/> when a limit is set: the rate limiting middleware (after
    /// authentication, so it partitions by API key) and the token charge of every generation. Call after
    /// <c>UseAuthorization</c>.
    /// </summary>
    public static IApplicationBuilder UseTokenflowRateLimits(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var limits = app.ApplicationServices.GetRequiredService<RateLimits>();
        if (!limits.Options.Enabled)
        {
            return app;
        }

        var accessor = app.ApplicationServices.GetRequiredService<IHttpContextAccessor>();
        app.ApplicationServices.GetRequiredService<GenerationRunner>().UsageObserver = _ =>
        {
            // The partition now: the request may be long gone when the generation ends.
            var partition = accessor.HttpContext is { } context ? RateLimits.PartitionOf(context) : null;
            return partition is null ? null : usage => limits.ChargeTokens(partition, usage);
        };
        return app.UseRateLimiter();
    }

    /// <summary>
    /// Maps <c>/healthz</c>, <c>/readyz</c> and (when on) <c>/metrics</c>, without authentication: probes and
    /// scrapers carry no API key. <c>/metrics</c> answers loopback clients only unless
    /// <see cref="TelemetryOptions.PrometheusRemote"/> is set.
    /// </summary>
    public static IEndpointRouteBuilder MapTokenflowOperations(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapHealth();
        var telemetry = endpoints.ServiceProvider.GetRequiredService<IOptions<TelemetryOptions>>().Value;
        if (telemetry.Prometheus)
        {
            endpoints.MapPrometheusScrapingEndpoint("/metrics", meterProvider: null, configureBranchedPipeline: branch => branch.Use(async (context, next) =>
            {
                if (telemetry.PrometheusRemote || context.Connection.RemoteIpAddress is not { } remote || IPAddress.IsLoopback(remote))
                {
                    await next(context);
                    return;
                }

                context.Response.StatusCode = StatusCodes.Status404NotFound;
            }), optionsName: null).AllowAnonymous();
        }

        return endpoints;
    }
}
