using System.Text.Json;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Hosting;

namespace Tokenflow.Server.OpenAi;

/// <summary><c>POST /v1/chat/completions</c> and <c>POST /v1/completions</c>.</summary>
internal static class CompletionEndpoints
{
    public static IEndpointConventionBuilder MapChatCompletions(this IEndpointRouteBuilder endpoints)
        => endpoints.MapPost("/v1/chat/completions", (HttpContext context) => HandleAsync(context, CompletionKind.Chat));

    public static IEndpointConventionBuilder MapCompletions(this IEndpointRouteBuilder endpoints)
        => endpoints.MapPost("/v1/completions", (HttpContext context) => HandleAsync(context, CompletionKind.Text));

    private static async Task HandleAsync(HttpContext context, CompletionKind kind)
    {
        var services = context.RequestServices;
        var options = services.GetRequiredService<IOptions<TokenflowOptions>>().Value;
        var (request, error) = await ReadBodyAsync(context, options.MaxRequestBodyBytes);
        ValidatedCompletion? completion = null;
        error ??= services.GetRequiredService<CompletionRequestValidator>().Validate(kind, request!, ApiKeys.OwnerOf(context), out completion);
        if (error is not null)
        {
            await error.WriteResponseAsync(context.Response);
            return;
        }

        var runner = services.GetRequiredService<GenerationRunner>();
        var start = await runner.StartAsync(completion!.Model, completion.Backend, completion.Generation, context.RequestAborted);
        if (start.Status != StreamCreateStatus.Created)
        {
            await OpenAiError.StartRefused(start.Status).WriteResponseAsync(context.Response);
            return;
        }

        var store = services.GetRequiredService<IStreamStore>();
        var (_, reader) = await store.OpenReaderAsync(start.StreamId!, 0, CancellationToken.None);
        await using (reader!)
        {
            if (completion.Stream)
            {
                using var writer = new ChunkSseWriter(context.Response.BodyWriter, kind, start.StreamId!, completion.Model.Id, start.Created, completion.IncludeUsage, completion.PartialJson);
                await ChunkStreamResponse.WriteEventStreamAsync(context, reader!, writer, options.HeartbeatInterval, services.GetRequiredService<TimeProvider>(), errorStatusBeforeOutput: true);
            }
            else
            {
                await ChunkStreamResponse.WriteCompleteAsync(context, reader!, kind, completion.Model.Id, start.Created);
            }
        }
    }

    private static async Task<(CompletionRequest? Request, OpenAiError? Error)> ReadBodyAsync(HttpContext context, long limit)
    {
        try
        {
            var request = await JsonSerializer.DeserializeAsync(context.Request.Body, OpenAiJsonContext.Default.CompletionRequest, context.RequestAborted);
            return request is null
                ? (null, OpenAiError.Invalid("The request body must be a JSON object.", null, "invalid_json"))
                : (request, null);
        }
        catch (JsonException ex)
        {
            var where = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? string.Empty : $" at {ex.Path}";
            var what = ex.Message.Contains("could not be converted", StringComparison.Ordinal)
                ? $"A field has the wrong type{where}."
                : $"The request body is not valid JSON{where}{(ex.LineNumber is { } line ? $" (line {line + 1}, byte {ex.BytePositionInLine + 1})" : string.Empty)}.";
            var param = ex.Path is { Length: > 2 } path ? path.TrimStart('$', '.') : null;
            return (null, OpenAiError.Invalid(what, param, "invalid_json"));
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, OpenAiError.TooLarge(limit));
        }
        catch (BadHttpRequestException ex)
        {
            return (null, new OpenAiError(ex.StatusCode, $"The request could not be read: {ex.Message}", "invalid_request_error", null, "bad_request"));
        }
    }
}
