using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Hosting;

/// <summary>
/// DNS rebinding and drive-by protection (DESIGN.md, "Security defaults"): while the server listens
/// only on loopback and has no API keys, a request whose <c>Host</c> is not a loopback name
/// (<c>localhost</c>, <c>127.0.0.1</c>, <c>[::1]</c>, any port) or whose <c>Origin</c> is not a loopback
/// origin gets 403 with an OpenAI error — a page on another site that reaches 127.0.0.1 (through a
/// rebound DNS name or a cross-site request) gets nothing. <see cref="TokenflowOptions.AllowedHosts"/> and
/// <see cref="TokenflowOptions.AllowedOrigins"/> add more. As the MCP transport rules ask; compare
/// Ollama's CVE-2024-28224.
/// </summary>
internal static class LoopbackGuard
{
    public static WebApplication UseLoopbackGuard(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<TokenflowOptions>>().Value;
        if (options.ApiKeys.Any(k => k.Length > 0))
        {
            // With keys, every request is authenticated; a drive-by page has no key.
            return app;
        }

        var hosts = new HashSet<string>(["localhost", "127.0.0.1", "[::1]", .. options.AllowedHosts], StringComparer.OrdinalIgnoreCase);
        var origins = new HashSet<string>(options.AllowedOrigins.Select(o => o.TrimEnd('/')), StringComparer.OrdinalIgnoreCase);
        var server = app.Services.GetRequiredService<IServer>();
        bool? loopbackOnly = null;
        app.Use(async (context, next) =>
        {
            // Decided on the first request, once Kestrel has bound its addresses.
            loopbackOnly ??= ListensOnlyOnLoopback(server);
            if (loopbackOnly == true)
            {
                // HostString.Host keeps an IPv6 literal's brackets ("[::1]").
                if (!hosts.Contains(context.Request.Host.Host))
                {
                    await Forbid(context, $"Host '{context.Request.Host.Value}' is not allowed: this server listens on loopback and accepts only loopback host names (add others with Tokenflow:AllowedHosts).", "host_not_allowed");
                    return;
                }

                // A CORS preflight is let through (it carries no credentials and changes nothing): the
                // request it announces carries the same Origin and is refused here.
                var origin = context.Request.Headers.Origin.ToString();
                var preflight = HttpMethods.IsOptions(context.Request.Method) && context.Request.Headers.ContainsKey("Access-Control-Request-Method");
                if (origin.Length > 0 && !preflight && !IsLoopbackOrigin(origin) && !origins.Contains(origin.TrimEnd('/')))
                {
                    await Forbid(context, $"Origin '{origin}' is not allowed: this server listens on loopback and accepts requests only from loopback pages (add others with Tokenflow:AllowedOrigins).", "origin_not_allowed");
                    return;
                }
            }

            await next(context);
        });
        return app;
    }

    private static Task Forbid(HttpContext context, string message, string code)
        => new OpenAiError(StatusCodes.Status403Forbidden, message, "invalid_request_error", null, code).WriteResponseAsync(context.Response);

    private static bool IsLoopbackOrigin(string origin)
        => Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            && uri.Scheme is "http" or "https"
            && (uri.IsLoopback || string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase));

    private static bool ListensOnlyOnLoopback(IServer server)
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses;
        if (addresses is null || addresses.Count == 0)
        {
            return false;
        }

        foreach (var address in addresses)
        {
            if (!Uri.TryCreate(address.Replace("://+", "://0.0.0.0", StringComparison.Ordinal).Replace("://*", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri)
                || !(uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip))))
            {
                return false;
            }
        }

        return true;
    }
}
