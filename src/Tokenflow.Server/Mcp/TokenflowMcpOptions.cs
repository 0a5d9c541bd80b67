using System.ComponentModel.DataAnnotations;
using ModelContextProtocol.AspNetCore;

namespace Tokenflow.Server.Mcp;

/// <summary>MCP settings, bound from the <c>Tokenflow:Mcp</c> configuration section.</summary>
internal sealed class TokenflowMcpOptions
{
    /// <summary>The configuration section name.</summary>
    public const string Section = "Tokenflow:Mcp";

    /// <summary>
    /// How <c>/mcp</c> tracks clients. Default <see cref="HttpServerSessionMode.Stateful"/>: every
    /// client gets a session, every server→client SSE event an id kept in the stream store, so a
    /// client that loses its connection mid-call resumes with <c>Last-Event-ID</c> and misses
    /// nothing; a dropped connection is not a cancellation (the call keeps running for the store's
    /// resume grace); resource subscriptions work. Several processes need the Redis store (sessions
    /// then migrate) or session affinity. <see cref="HttpServerSessionMode.Stateless"/>: every request
    /// stands alone and any process answers it, but a dropped call is lost (and so cancelled) and
    /// nothing is sent outside a call's response (no subscriptions).
    /// <see cref="HttpServerSessionMode.StatefulForInitializeClients"/>: sessions for clients that use
    /// the <c>initialize</c> handshake, stateless for 2026-07-28 clients.
    /// </summary>
    public HttpServerSessionMode SessionMode { get; set; } = HttpServerSessionMode.Stateful;

    /// <summary>
    /// The <c>retry:</c> sent with each SSE stream's priming event (SEP-1699): how soon a client that
    /// lost the stream should reconnect. Keep it below the store's resume grace. Default 1 second.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The shortest time between two <c>notifications/resources/updated</c> of one subscription:
    /// growth in between is coalesced into one. Default 250 ms.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan ResourceUpdateInterval { get; set; } = TimeSpan.FromMilliseconds(250);
}
