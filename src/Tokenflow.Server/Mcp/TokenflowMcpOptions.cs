using ModelContextProtocol.AspNetCore;

namespace Tokenflow.Server.Mcp;

/// <summary>MCP settings, bound from the <c>Tokenflow:Mcp</c> configuration section.</summary>
internal sealed class TokenflowMcpOptions
{
    /// <summary>The configuration section name.</summary>
    public const string Section = "Tokenflow:Mcp";

    /// <summary>
    /// How <c>/mcp</c> tracks clients. Default <see cref="HttpServerSessionMode.Stateless"/>: every
    /// request stands alone, so any server process can answer it; a call is cancelled by closing its
    /// response. <see cref="HttpServerSessionMode.StatefulForInitializeClients"/> gives clients that
    /// use the initialize handshake (protocol 2025-11-25 and older, e.g. the TypeScript SDK 1.x) a
    /// session, which their <c>notifications/cancelled</c> needs to reach a running call — those
    /// clients then need session affinity when several processes serve <c>/mcp</c>.
    /// </summary>
    public HttpServerSessionMode SessionMode { get; set; } = HttpServerSessionMode.Stateless;
}
