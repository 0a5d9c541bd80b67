using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Hosting;

/// <summary>
/// Authenticates <c>Authorization: Bearer &lt;key&gt;</c> (or Anthropic's <c>x-api-key</c>, or on a WebSocket handshake
/// the subprotocol <see cref="WebSocketProtocolKey"/>, since browsers cannot set headers there) against the configured
/// API keys. A match yields a principal whose <see cref="ClaimTypes.NameIdentifier"/> is the key's owner id
/// (<see cref="ApiKeys.OwnerId"/>); a challenge answers 401 with the OpenAI error object, as OpenAI does (on
/// <c>/v1/messages</c>, Anthropic's error shape).
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(IOptionsMonitor<ApiKeyAuthenticationOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<ApiKeyAuthenticationOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var hashes = Options.KeyHashes;
        var key = BearerKey();
        if (hashes.Count == 0 || key.Length == 0)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var hash = ApiKeys.Hash(key);
        var match = false;
        foreach (var candidate in hashes)
        {
            // Compare every key in fixed time so timing reveals nothing about which or how much matched.
            match |= CryptographicOperations.FixedTimeEquals(candidate, hash);
        }

        if (!match)
        {
            return Task.FromResult(AuthenticateResult.Fail("Incorrect API key provided."));
        }

        var owner = Convert.ToHexStringLower(hash.AsSpan(0, 16));
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, owner)], Scheme.Name);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var message = BearerKey().Length == 0 ? "Missing API key: send 'Authorization: Bearer <key>'." : "Incorrect API key provided.";
        var error = new OpenAiError(StatusCodes.Status401Unauthorized, message, "invalid_request_error", null, "invalid_api_key");
        return Request.Path.StartsWithSegments("/v1/messages", StringComparison.Ordinal)
            ? Anthropic.AnthropicError.WriteResponseAsync(Response, error)
            : error.WriteResponseAsync(Response);
    }

    private string BearerKey()
    {
        var header = Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return header[7..].Trim();
        }

        var apiKey = Request.Headers["x-api-key"].ToString().Trim();
        return apiKey.Length > 0 ? apiKey : WebSocketProtocolKey.Find(Request.Headers.SecWebSocketProtocol) ?? string.Empty;
    }
}
