namespace Tokenflow.Server.WebSockets;

/// <summary><c>GET /v1/ws</c>: one WebSocket carrying many streams (DESIGN.md "WebSocket").</summary>
internal static class WebSocketEndpoints
{
    public static IEndpointConventionBuilder MapTokenflowWebSocket(this IEndpointRouteBuilder endpoints)
        => endpoints.Map("/v1/ws", async context =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                await OpenAi.OpenAiError.Invalid("GET /v1/ws expects a WebSocket upgrade request.", null, "websocket_required").WriteResponseAsync(context.Response);
                return;
            }

            // A browser that offered subprotocols (the key-carrying one among them) fails the handshake unless the
            // server selects one: select ours, never the entry with the key.
            var protocol = context.WebSockets.WebSocketRequestedProtocols.Contains(Hosting.WebSocketProtocolKey.Protocol) ? Hosting.WebSocketProtocolKey.Protocol : null;
            using var socket = await context.WebSockets.AcceptWebSocketAsync(protocol);
            var session = ActivatorUtilities.CreateInstance<WebSocketSession>(context.RequestServices, socket);
            session.Owner = Hosting.ApiKeys.OwnerOf(context);
            session.RateLimitPartition = Operations.RateLimits.PartitionOf(context);
            await session.RunAsync(context.RequestAborted);
        });
}
