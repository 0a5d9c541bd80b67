using Microsoft.AspNetCore.Diagnostics;
using Tokenflow.Server.OpenAi;
using Tokenflow.Server.Operations;

namespace Tokenflow.Server.Hosting;

/// <summary>
/// Last-resort error handling: unmatched routes and unexpected exceptions become errors in the door's own
/// shape (<see cref="DoorErrors"/>; never an HTML page or a stack trace); the exception is logged once.
/// </summary>
internal static class ErrorResponses
{
    public static WebApplication UseOpenAiErrors(this WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            ExceptionHandler = async context =>
            {
                var feature = context.Features.Get<IExceptionHandlerFeature>();
                if (feature?.Error is BadHttpRequestException bad)
                {
                    await DoorErrors.WriteAsync(context, new OpenAiError(bad.StatusCode, $"The request could not be read: {bad.Message}", "invalid_request_error", null, "bad_request"));
                    return;
                }

                if (feature?.Error is InvalidOperationException json && json.StackTrace?.Contains("System.Text.Json.", StringComparison.Ordinal) == true)
                {
                    // A JSON string with an escaped lone surrogate ("\ud800") parses, and throws only when read.
                    await DoorErrors.WriteAsync(context, OpenAiError.Invalid("The request body has a string that is not valid UTF-16.", null, "invalid_json"));
                    return;
                }

                if (feature?.Error is Tokenflow.Core.Streams.StreamStoreUnavailableException)
                {
                    await DoorErrors.WriteAsync(context, OpenAiError.StoreUnavailable());
                    return;
                }

                await DoorErrors.WriteAsync(context, new OpenAiError(StatusCodes.Status500InternalServerError, "The server failed to handle the request; the failure was logged.", "server_error", null, "internal_error"));
            },
        });

        app.UseStatusCodePages(async statusContext =>
        {
            var context = statusContext.HttpContext;
            var error = context.Response.StatusCode switch
            {
                StatusCodes.Status404NotFound => new OpenAiError(404, $"No route {context.Request.Method} {context.Request.Path}.", "invalid_request_error", null, "not_found"),
                StatusCodes.Status405MethodNotAllowed => new OpenAiError(405, $"Method {context.Request.Method} is not allowed on {context.Request.Path}.", "invalid_request_error", null, "method_not_allowed"),
                var status => new OpenAiError(status, $"The request failed with status {status}.", status >= 500 ? "server_error" : "invalid_request_error"),
            };
            await DoorErrors.WriteAsync(context, error);
        });

        return app;
    }
}
