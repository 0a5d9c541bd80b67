using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Hosting;

/// <summary>
/// Optional API-key authentication: when <see cref="TokenflowOptions.ApiKeys"/> is set, every
/// <c>/v1</c> and <c>/mcp</c> request needs <c>Authorization: Bearer &lt;key&gt;</c> (401 otherwise), and the
/// streams it creates belong to that key — other keys see them as unknown (404).
/// </summary>
internal static class ApiKeys
{
    private const string OwnerItem = "tokenflow.owner";

    /// <summary>The caller's owner id (a hash of its key), or null when keys are off.</summary>
    public static string? OwnerOf(HttpContext context) => context.Items[OwnerItem] as string;

    /// <summary>True when the caller may see a stream created by <paramref name="owner"/>.</summary>
    public static bool MayAccess(HttpContext context, string? owner) => string.Equals(OwnerOf(context), owner, StringComparison.Ordinal);

    /// <summary>Stable, non-reversible id of a key: the first 16 bytes of its SHA-256, hex.</summary>
    public static string OwnerId(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)).AsSpan(0, 16));

    public static WebApplication UseApiKeys(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<TokenflowOptions>>().Value;
        var hashes = options.ApiKeys.Where(k => k.Length > 0).Select(k => SHA256.HashData(Encoding.UTF8.GetBytes(k))).ToArray();
        if (hashes.Length == 0)
        {
            return app;
        }

        app.Use(async (context, next) =>
        {
            if (!context.Request.Path.StartsWithSegments("/v1") && !context.Request.Path.StartsWithSegments("/mcp"))
            {
                await next(context);
                return;
            }

            var header = context.Request.Headers.Authorization.ToString();
            var key = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : string.Empty;
            var hash = SHA256.HashData(Encoding.UTF8.GetBytes(key));
            var match = false;
            foreach (var candidate in hashes)
            {
                // Compare every key in fixed time so timing reveals nothing about which or how much matched.
                match |= CryptographicOperations.FixedTimeEquals(candidate, hash);
            }

            if (!match)
            {
                await new OpenAiError(StatusCodes.Status401Unauthorized, key.Length == 0 ? "Missing API key: send 'Authorization: Bearer <key>'." : "Incorrect API key provided.", "invalid_request_error", null, "invalid_api_key").WriteResponseAsync(context.Response);
                return;
            }

            context.Items[OwnerItem] = Convert.ToHexStringLower(hash.AsSpan(0, 16));
            await next(context);
        });
        return app;
    }
}
