using Microsoft.AspNetCore.Authentication;

namespace Tokenflow.Server.Hosting;

/// <summary>Options of the <see cref="ApiKeys.Scheme"/> scheme: the SHA-256 of each configured key.</summary>
internal sealed class ApiKeyAuthenticationOptions : AuthenticationSchemeOptions
{
    /// <summary>The hashes of the accepted keys; empty turns the scheme off (no caller is authenticated).</summary>
    public IReadOnlyList<byte[]> KeyHashes { get; set; } = [];
}
