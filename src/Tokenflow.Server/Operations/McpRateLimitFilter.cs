using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Tokenflow.Server.Operations;

/// <summary>
/// Rate limits on MCP count tool calls, not HTTP requests: one <c>tools/call</c> is one request against
/// <see cref="RateLimitOptions.RequestsPerMinute"/> (and <c>generate</c>/<c>start_generation</c> are refused once
/// <see cref="RateLimitOptions.TokensPerMinute"/> is used up); <c>initialize</c>, <c>tools/list</c>, notifications,
/// the SSE GET stream and resumes cost nothing. A refused call gets a tool error (<c>isError: true</c>) the caller's
/// model can read, with the limit and the seconds to wait in <c>structuredContent</c>.
/// </summary>
internal static class McpRateLimitFilter
{
    /// <summary>The tools that start a generation (the token limit refuses only those).</summary>
    private static bool MayGenerate(string? tool) => tool is "generate" or "start_generation";

    /// <summary>The <c>tools/call</c> filter; passes every call through when no limit is set or there is no HTTP request (stdio).</summary>
    public static McpRequestHandler<CallToolRequestParams, CallToolResult> Filter(McpRequestHandler<CallToolRequestParams, CallToolResult> next)
        => async (request, cancellationToken) =>
        {
            var limits = request.Services?.GetService<RateLimits>();
            var context = request.Services?.GetService<IHttpContextAccessor>()?.HttpContext;
            if (limits is null || !limits.Options.Enabled || context is null)
            {
                return await next(request, cancellationToken).ConfigureAwait(false);
            }

            var refusal = await limits.CheckAsync(RateLimits.PartitionOf(context), countRequest: true, MayGenerate(request.Params?.Name)).ConfigureAwait(false);
            if (refusal is null)
            {
                return await next(request, cancellationToken).ConfigureAwait(false);
            }

            return new CallToolResult
            {
                IsError = true,
                Content = [new TextContentBlock { Text = refusal.Message }],
                StructuredContent = JsonDocument.Parse(new JsonObject
                {
                    ["error"] = new JsonObject
                    {
                        ["type"] = refusal.Limit,
                        ["code"] = "rate_limit_exceeded",
                        ["message"] = refusal.Message,
                        ["retry_after"] = RateLimits.Seconds(refusal.RetryAfter),
                    },
                }.ToJsonString()).RootElement.Clone(),
            };
        };
}
