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

            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var session = ActivatorUtilities.CreateInstance<WebSocketSession>(context.RequestServices, socket);
            session.Owner = Hosting.ApiKeys.OwnerOf(context);
            session.RateLimitPartition = Operations.RateLimits.PartitionOf(context);
            await session.RunAsync(context.RequestAborted);
        });
}
