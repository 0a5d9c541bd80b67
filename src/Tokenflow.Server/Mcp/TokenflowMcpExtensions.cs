using System.Reflection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ModelContextProtocol.AspNetCore;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Tokenflow.Server.Mcp;

/// <summary>
/// Registers and maps the MCP door: <c>/mcp</c> over Streamable HTTP, stateful and resumable by
/// default (SSE events kept in the stream store, sessions that migrate between processes sharing a
/// Redis store; see <see cref="TokenflowMcpOptions.SessionMode"/>), with the generation tools, the
/// stream resource template and its subscriptions, all backed by the same stream store as the HTTP API.
/// </summary>
internal static class TokenflowMcpExtensions
{
    /// <summary>The MCP endpoint's path.</summary>
    public const string Path = "/mcp";

    /// <summary>
    /// Adds the MCP server, its tools and resources, and the Streamable HTTP transport (session mode
    /// from <see cref="TokenflowMcpOptions"/>, stateful by default, with resumability and session
    /// migration through the stream store).
    /// </summary>
    public static IServiceCollection AddTokenflowMcp(this IServiceCollection services)
    {
        services.AddTokenflowMcpServer().WithHttpTransport();
        services.TryAddSingleton<McpSessionMigration>();
        services.AddOptions<HttpServerTransportOptions>().Configure<IOptions<TokenflowMcpOptions>, McpEventStreamStore, McpSessionMigration>((http, mcp, events, sessions) =>
        {
            http.SessionMode = mcp.Value.SessionMode;
            if (mcp.Value.SessionMode != HttpServerSessionMode.Stateless)
            {
                // The SDK marks these obsolete (MCP9006) with sessions themselves; see McpEventStreamStore.
#pragma warning disable MCP9006
                http.EventStreamStore = events;
                http.SessionMigrationHandler = sessions;
#pragma warning restore MCP9006
            }
        });
        return services;
    }

    /// <summary>Maps <c>/mcp</c>. Returns the endpoint builder so hosts can add auth or rate limits.</summary>
    public static IEndpointConventionBuilder MapTokenflowMcp(this IEndpointRouteBuilder endpoints)
        => endpoints.MapMcp(Path);

    /// <summary>The MCP server without a transport: shared by <c>/mcp</c> and stdio.</summary>
    internal static IMcpServerBuilder AddTokenflowMcpServer(this IServiceCollection services)
    {
        services.AddHttpContextAccessor();
        services.TryAddSingleton<StreamAccess>();
        services.TryAddSingleton<GenerationArguments>();
        services.TryAddSingleton<McpSubscriptions>();
        services.TryAddSingleton<McpEventStreamStore>();
        services.AddOptions<TokenflowMcpOptions>().BindConfiguration(TokenflowMcpOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<McpServerTool, GenerateTool>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<McpServerTool, StartGenerationTool>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<McpServerTool, ReadStreamTool>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<McpServerTool, CancelStreamTool>());
        return services
            .AddMcpServer(options =>
            {
                options.ServerInfo = new Implementation
                {
                    Name = "tokenflow",
                    Title = "Tokenflow",
                    Version = typeof(TokenflowMcpExtensions).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0",
                };
                options.ServerInstructions =
                    "Tokenflow streams text from language models while they generate it. generate returns the whole text and, "
                    + "if you send a progress token, each new piece as a progress notification. To act on partial output without "
                    + "progress notifications: start_generation, then read_stream repeatedly (pass the last_seq you got as 'after', "
                    + "and wait_ms to wait for new text), and cancel_stream once you have what you need.";
            })
            .WithResources<StreamResource>()
            .WithRequestFilters(filters => filters.AddCallToolFilter(Operations.McpRateLimitFilter.Filter))
            .WithSubscribeToResourcesHandler((request, cancellationToken) => request.Services!.GetRequiredService<McpSubscriptions>().SubscribeAsync(request, cancellationToken))
            .WithUnsubscribeFromResourcesHandler((request, cancellationToken) => request.Services!.GetRequiredService<McpSubscriptions>().UnsubscribeAsync(request, cancellationToken));
    }
}
