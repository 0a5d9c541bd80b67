using Tokenflow.Core.Streams;
using Tokenflow.Server.Hosting;

namespace Tokenflow.Server.Mcp;

/// <summary>
/// The MCP caller's view of the stream store: who is calling (the API-key owner of the HTTP
/// request, none over stdio) and which streams it may see — the same rule as <c>/v1/streams</c>,
/// where another key's stream is indistinguishable from an unknown one.
/// </summary>
internal sealed class StreamAccess
{
    private readonly IHttpContextAccessor _http;

    public StreamAccess(Core.Streams.StreamAccess streams, IHttpContextAccessor http)
    {
        Streams = streams;
        _http = http;
    }

    /// <summary>Core's access rules, for the calls that take the caller's owner (<see cref="Owner"/>).</summary>
    public Core.Streams.StreamAccess Streams { get; }

    public IStreamStore Store => Streams.Store;

    /// <summary>The caller's owner id, or null when API keys are off or the call came over stdio.</summary>
    // Stateless Streamable HTTP runs each call in its POST request's execution context, so the accessor sees that request.
    public string? Owner => _http.HttpContext is { } context ? ApiKeys.OwnerOf(context) : null;

    /// <summary>
    /// Signalled when the HTTP request that carries the current call is aborted (never over stdio).
    /// In stateless mode the call's own token already covers this; with sessions it does not, as the
    /// SDK keeps a call running for its session when the POST's response goes away.
    /// </summary>
    public CancellationToken RequestAborted => _http.HttpContext?.RequestAborted ?? CancellationToken.None;

    /// <summary>True when the current call came over HTTP (<c>/mcp</c>), false over stdio.</summary>
    public bool OverHttp => _http.HttpContext is not null;

    /// <summary>The stream's descriptor when it exists and the caller may see it; otherwise null.</summary>
    public ValueTask<StreamDescriptor?> FindAsync(string id, CancellationToken cancellationToken) => Streams.FindAsync(id, Owner, cancellationToken);

    /// <summary>The message for an id that <see cref="FindAsync"/> does not find.</summary>
    public static string NotFound(string id)
        => $"No stream '{id}': it never existed or has expired. Stream ids come from start_generation (or the stream_id of generate).";
}
