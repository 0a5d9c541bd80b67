using System.Buffers.Text;
using System.Text;
using Microsoft.Extensions.Primitives;

namespace Tokenflow.Server.Hosting;

/// <summary>
/// The API key of a WebSocket handshake, carried as a subprotocol: a browser cannot set <c>Authorization</c> on
/// <c>new WebSocket(url, protocols)</c>, but it can offer <c>tokenflow.v1, tokenflow.bearer.&lt;base64url(key)&gt;</c>
/// (as Kubernetes' <c>base64url.bearer.authorization.k8s.io.</c> does). The server selects <see cref="Protocol"/>,
/// never the key's entry, so the key is not echoed.
/// </summary>
internal static class WebSocketProtocolKey
{
    /// <summary>The subprotocol the server selects when the client offers it.</summary>
    public const string Protocol = "tokenflow.v1";

    /// <summary>The prefix of the subprotocol entry that carries the key, base64url-encoded without padding.</summary>
    public const string Prefix = "tokenflow.bearer.";

    /// <summary>The key in <paramref name="protocols"/> (the <c>Sec-WebSocket-Protocol</c> values), or null when none decodes.</summary>
    public static string? Find(StringValues protocols)
    {
        foreach (var value in protocols)
        {
            foreach (var entry in (value ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (!entry.StartsWith(Prefix, StringComparison.Ordinal))
                {
                    continue;
                }

                var encoded = Encoding.ASCII.GetBytes(entry[Prefix.Length..]);
                var decoded = new byte[Base64Url.GetMaxDecodedLength(encoded.Length)];
                if (Base64Url.DecodeFromUtf8(encoded, decoded, out _, out var written) != System.Buffers.OperationStatus.Done)
                {
                    return null;
                }

                try
                {
                    return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(decoded, 0, written).Trim();
                }
                catch (DecoderFallbackException)
                {
                    return null;
                }
            }
        }

        return null;
    }
}
