using Tokenflow.Server.Operations;

namespace Tokenflow.Server.Hosting;

/// <summary>Builds the Tokenflow web application; used by <c>Program</c>, the CLI and tests.</summary>
public static class TokenflowApp
{
    /// <summary>The address used when none is configured: loopback only, by default.</summary>
    public const string DefaultUrl = "http://127.0.0.1:8080";

    /// <summary>
    /// Creates the application from command-line <paramref name="args"/> (<c>--urls</c>,
    /// <c>--model PATH|hf:…</c>, any <c>--Tokenflow:Key value</c>). <paramref name="configure"/>
    /// may adjust the builder before it is built (tests replace services there).
    /// </summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["http_ports"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // Hosting logs only request start/stop here (Information); leaving it enabled at all makes it create an
        // Activity for every request. Tracing listeners (OpenTelemetry) still get their activities.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        builder.Services.AddTokenflow(builder.Configuration);
        configure?.Invoke(builder);

        var app = builder.Build();
        app.UseOpenAiErrors();
        app.UseLoopbackGuard();
        // CORS before authentication: a browser's preflight never carries the API key, so it is answered
        // by the durable door's policy (and the request that follows is authenticated as usual).
        app.UseCors();
        // After the error pages, so a 401 from a challenge keeps its OpenAI error body.
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseTokenflowRateLimits();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(15) });
        app.UsePlayground();
        app.MapTokenflow();
        app.MapTokenflowOperations();
        return app;
    }
}
