using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace Tokenflow.Server.Hosting;

/// <summary>
/// Optional API-key authentication: when <see cref="TokenflowOptions.ApiKeys"/> is set, every
/// <c>/v1</c> and <c>/mcp</c> endpoint requires a user authenticated by the <see cref="Scheme"/> scheme
/// (<c>Authorization: Bearer &lt;key&gt;</c>; 401 otherwise, through the <see cref="Policy"/> policy), and the
/// streams a caller creates belong to its owner id — other keys see them as unknown (404).
/// </summary>
internal static class ApiKeys
{
    /// <summary>The authentication scheme that checks <c>Authorization: Bearer</c> against the configured keys.</summary>
    public const string Scheme = "TokenflowApiKey";

    /// <summary>
    /// The authorization policy on every Tokenflow endpoint: an authenticated <see cref="Scheme"/> user when
    /// API keys are configured, anyone when they are not.
    /// </summary>
    public const string Policy = "Tokenflow";

    /// <summary>
    /// The caller's owner id: the <see cref="ClaimTypes.NameIdentifier"/> of the authenticated user (with API
    /// keys, a hash of its key; the MCP SDK binds sessions to the same claim), or null for anonymous callers.
    /// </summary>
    public static string? OwnerOf(HttpContext context)
        => context.User.Identity?.IsAuthenticated == true ? context.User.FindFirst(ClaimTypes.NameIdentifier)?.Value : null;

    /// <summary>Stable, non-reversible id of a key: the first 16 bytes of its SHA-256, hex.</summary>
    public static string OwnerId(string key) => Convert.ToHexStringLower(Hash(key).AsSpan(0, 16));

    /// <summary>The SHA-256 of a key's UTF-8 bytes.</summary>
    internal static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>Adds the <see cref="Scheme"/> authentication scheme and the <see cref="Policy"/> policy, both configured from <see cref="TokenflowOptions"/>.</summary>
    public static IServiceCollection AddApiKeyAuthentication(this IServiceCollection services)
    {
        services.AddAuthentication().AddScheme<ApiKeyAuthenticationOptions, ApiKeyAuthenticationHandler>(Scheme, null);
        services.AddOptions<ApiKeyAuthenticationOptions>(Scheme).Configure<IOptions<TokenflowOptions>>((scheme, tokenflow) =>
            scheme.KeyHashes = tokenflow.Value.ApiKeys.Where(k => k.Length > 0).Select(Hash).ToArray());
        services.AddAuthorization();
        services.AddOptions<AuthorizationOptions>().Configure<IOptions<TokenflowOptions>>((authorization, tokenflow) =>
            authorization.AddPolicy(Policy, tokenflow.Value.ApiKeys.Any(k => k.Length > 0)
                ? new AuthorizationPolicyBuilder(Scheme).RequireAuthenticatedUser().Build()
                : new AuthorizationPolicyBuilder().RequireAssertion(static _ => true).Build()));
        return services;
    }
}
