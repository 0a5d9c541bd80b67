using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Tokenflow.Redis.Tests;

/// <summary>Requests to a server process' Durable Streams door, and what its SSE responses carried.</summary>
internal static class DurableHttp
{
    /// <summary>Sends <paramref name="method"/> to <c>/v1/durable/&lt;path&gt;</c>; PUT and POST always carry a body with <paramref name="contentType"/>.</summary>
    public static async Task<HttpResponseMessage> SendAsync(ServerProcess server, HttpMethod method, string path, string? body = null, string contentType = "application/json", params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method, "/v1/durable/" + path);
        if (method == HttpMethod.Put || method == HttpMethod.Post)
        {
            // An empty body still carries the content type (a create sets the stream's type with it).
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body ?? string.Empty));
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    /// <summary>The integers of a JSON stream of numbers, in order, from the <c>data</c> events of an SSE response's text.</summary>
    public static List<int> SseNumbers(string text) => text.Split('\n')
        .Where(l => l.StartsWith("data:", StringComparison.Ordinal) && l.Contains('[', StringComparison.Ordinal))
        .SelectMany(l => JsonDocument.Parse(l["data:".Length..]).RootElement.EnumerateArray().Select(e => e.GetInt32()).ToList())
        .ToList();
}
