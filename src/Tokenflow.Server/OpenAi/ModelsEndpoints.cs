using System.Buffers;
using System.Text.Json;
using Tokenflow.Core.Backends;

namespace Tokenflow.Server.OpenAi;

/// <summary><c>GET /v1/models</c> and <c>GET /v1/models/{id}</c> in OpenAI's list format.</summary>
internal static class ModelsEndpoints
{
    /// <summary>Maps both endpoints. Returns their group so hosts can add auth or rate limits to both.</summary>
    public static RouteGroupBuilder MapModels(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/v1/models");
        group.MapGet("/{**id}", async (HttpContext context, string id, ModelCatalog catalog) =>
        {
            if (!catalog.TryGet(id, out var model))
            {
                await OpenAiError.ModelNotFound(id).WriteResponseAsync(context.Response);
                return;
            }

            await WriteJsonAsync(context, w => WriteModel(w, model));
        });

        // Local models, then each upstream's (<name>/<id>, from its own model list, cached).
        group.MapGet(string.Empty, async (HttpContext context, ModelCatalog catalog) =>
        {
            var models = await catalog.ListAsync(context.RequestAborted);
            await WriteJsonAsync(context, w =>
            {
                w.WriteStartObject();
                w.WriteString("object"u8, "list"u8);
                w.WriteStartArray("data"u8);
                foreach (var model in models)
                {
                    WriteModel(w, model);
                }

                w.WriteEndArray();
                w.WriteEndObject();
            });
        });
        return group;
    }

    private static void WriteModel(Utf8JsonWriter w, ModelEntry model)
    {
        w.WriteStartObject();
        w.WriteString("id"u8, model.Id);
        w.WriteString("object"u8, "model"u8);
        w.WriteNumber("created"u8, model.Created);
        w.WriteString("owned_by"u8, model.OwnedBy);
        if (model.ContextLength > 0)
        {
            w.WriteNumber("context_length"u8, model.ContextLength);
        }

        w.WriteEndObject();
    }

    private static async Task WriteJsonAsync(HttpContext context, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer, JsonWriting.Options))
        {
            write(w);
        }

        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }
}
