using Tokenflow.Core.Backends;
using Tokenflow.Core.Streams;
using Tokenflow.Upstreams.Protocols;

namespace Tokenflow.Upstreams;

/// <summary>
/// Provider failures as OpenAI errors: the upstream's status (429, 400, 401, 5xx …) and its message,
/// or Tokenflow's own codes for what the upstream could not say (<c>upstream_unavailable</c> 502,
/// <c>upstream_timeout</c> 504, <c>upstream_disconnected</c> / <c>upstream_incomplete</c> 502).
/// </summary>
internal static class UpstreamErrors
{
    /// <summary>Whether, before the first token, this failure moves on to the next upstream.</summary>
    public static bool IsRetryable(StreamError error) => error.Status is >= 500 or 429 or 408;

    /// <summary>An error status answered by the upstream, with its body's message when it has one.</summary>
    public static StreamError FromResponse(UpstreamProtocol protocol, string upstream, int status, ReadOnlySpan<byte> body, TimeSpan? retryAfter)
    {
        var parsed = ProviderError.Parse(body);
        return Create(upstream, status, parsed.Message, parsed.Type, parsed.Code, retryAfter);
    }

    /// <summary>An error the upstream reported inside its stream (an SSE <c>error</c> event, an NDJSON <c>error</c> line).</summary>
    public static ModelBackendException InStream(string upstream, ProviderError error)
        => new(Create(upstream, error.Status ?? StatusFor(error.Type), error.Message, error.Type, error.Code, null));

    /// <summary>
    /// The client-facing error for an exception out of an attempt (not a cancel the caller asked for). Before the
    /// first token any failure maps (a broken connection means the upstream is unavailable); after it, a broken
    /// connection means the stream was cut off, and an exception that is none of these is not mapped (null).
    /// </summary>
    public static ModelBackendException? FromException(string upstream, Exception ex, bool afterFirstToken) => ex switch
    {
        ModelBackendException backend => backend,
        HttpRequestException or IOException => afterFirstToken ? Disconnected(upstream, ex) : Unavailable(upstream, ex),
        System.Text.Json.JsonException or InvalidOperationException or FormatException => Invalid(upstream, ex),
        _ => afterFirstToken ? null : Invalid(upstream, ex),
    };

    public static ModelBackendException Unavailable(string upstream, Exception ex)
        => new(new StreamError($"Upstream '{upstream}' could not be reached: {ex.Message}", "server_error", "upstream_unavailable") { Status = 502 }, ex);

    public static ModelBackendException Timeout(string upstream, TimeSpan ttft)
        => new(new StreamError($"Upstream '{upstream}' sent no token within {ttft.TotalSeconds:0.###} s.", "server_error", "upstream_timeout") { Status = 504 });

    public static ModelBackendException Disconnected(string upstream, Exception ex)
        => new(new StreamError($"Upstream '{upstream}' broke the stream off: {ex.Message}", "server_error", "upstream_disconnected") { Status = 502 }, ex);

    public static ModelBackendException Incomplete(string upstream)
        => new(new StreamError($"Upstream '{upstream}' ended its stream without finishing the response.", "server_error", "upstream_incomplete") { Status = 502 });

    public static ModelBackendException Invalid(string upstream, Exception ex)
        => new(new StreamError($"Upstream '{upstream}' sent a response Tokenflow could not read: {ex.Message}", "server_error", "upstream_invalid_response") { Status = 502 }, ex);

    private static StreamError Create(string upstream, int status, string? message, string? type, string? code, TimeSpan? retryAfter)
    {
        // Anthropic's 529 "overloaded" is not an HTTP status OpenAI clients know.
        var clientStatus = status == 529 ? 503 : status;
        var openAiType = type switch
        {
            null or "api_error" or "overloaded_error" or "error" => clientStatus >= 500 ? "server_error" : clientStatus == 429 ? "rate_limit_error" : clientStatus is 401 or 403 ? "authentication_error" : "invalid_request_error",
            _ => type,
        };
        code ??= type == "overloaded_error" || status == 529 ? "overloaded"
            : clientStatus == 429 ? "rate_limit_exceeded"
            : clientStatus == 401 ? "invalid_api_key"
            : clientStatus == 404 ? "model_not_found"
            : clientStatus >= 500 ? "upstream_error"
            : null;
        return new StreamError(message ?? $"Upstream '{upstream}' answered {status}.", openAiType, code)
        {
            Status = clientStatus,
            RetryAfter = retryAfter,
        };
    }

    private static int StatusFor(string? type) => type switch
    {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "overloaded_error" => 529,
        _ => 502,
    };
}
