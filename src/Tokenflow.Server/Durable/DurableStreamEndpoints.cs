using System.Globalization;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Extensions.Options;
using Tokenflow.Core.Durable;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Hosting;

namespace Tokenflow.Server.Durable;

/// <summary>
/// The Durable Streams protocol 1.0 on <c>/v1/durable/{**path}</c>: maps each method onto the stores. A path that
/// names a generation (<see cref="StreamAccess"/>) is that generation, read-only (<see cref="GenerationReadSource"/>);
/// any other path is a client-created stream of <see cref="IDurableStreamStore"/>. Reads of both go through
/// <see cref="DurableReadResponder"/>; CORS is the <see cref="DurableStreamsExtensions.CorsPolicy"/> policy.
/// </summary>
internal static class DurableStreamEndpoints
{
    public const string Prefix = "/v1/durable";

    private const string ClientStreamMethods = "GET, HEAD, PUT, POST, DELETE, OPTIONS";

    public static async Task HandleAsync(HttpContext context, string path, IDurableStreamStore store, StreamAccess generations, IOptions<DurableStreamOptions> options, TimeProvider time)
    {
        var response = context.Response;
        // Error bodies here are short text; keep the host's JSON status pages out of this door.
        context.Features.Get<IStatusCodePagesFeature>()?.Enabled = false;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Cross-Origin-Resource-Policy"] = "cross-origin";
        var method = context.Request.Method;
        if (HttpMethods.IsOptions(method))
        {
            // CORS preflights never get here: the CORS middleware answers them from the policy.
            response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        var settings = options.Value;
        if (!DurableRequestParser.IsValidPath(path, settings.MaxPathLength))
        {
            await DurableResponses.FailAsync(response, StatusCodes.Status400BadRequest, "Invalid stream path.");
            return;
        }

        var owner = ApiKeys.OwnerOf(context);
        await using (var generation = await GenerationReadSource.TryOpenAsync(generations, path, owner, context.RequestAborted))
        {
            if (generation is not null)
            {
                await HandleGenerationAsync(context, generation, settings, time);
                return;
            }
        }

        if (HttpMethods.IsPut(method))
        {
            await CreateAsync(context, path, owner, store, settings);
        }
        else if (HttpMethods.IsPost(method))
        {
            await AppendAsync(context, path, owner, store, settings);
        }
        else if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method))
        {
            await ReadAsync(context, new DurableStoreReadSource(store, path, owner), settings, time);
        }
        else if (HttpMethods.IsDelete(method))
        {
            var result = await store.DeleteAsync(path, owner, context.RequestAborted);
            response.StatusCode = result.Outcome == DurableOutcome.Ok ? StatusCodes.Status204NoContent : DurableResponses.StatusOf(result.Outcome);
        }
        else
        {
            response.Headers.Allow = ClientStreamMethods;
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
        }
    }

    /// <summary>Paths are relative, bounded, printable, without empty, <c>.</c> or <c>..</c> segments, and not under the reserved <c>__ds</c> prefix.</summary>
    internal static bool IsValidPath(string path, int maxLength) => DurableRequestParser.IsValidPath(path, maxLength);

    /// <summary>A generation is read-only: GET and HEAD, anything else 405.</summary>
    private static async Task HandleGenerationAsync(HttpContext context, GenerationReadSource generation, DurableStreamOptions settings, TimeProvider time)
    {
        if (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method))
        {
            await ReadAsync(context, generation, settings, time);
            return;
        }

        context.Response.Headers.Allow = "GET, HEAD, OPTIONS";
        await DurableResponses.FailAsync(context.Response, StatusCodes.Status405MethodNotAllowed, "A generation's stream is written only by its generation.");
    }

    /// <summary>GET: a read through the one responder. HEAD: the stream's metadata, never cached.</summary>
    private static async Task ReadAsync(HttpContext context, IDurableReadSource source, DurableStreamOptions settings, TimeProvider time)
    {
        var response = context.Response;
        if (HttpMethods.IsHead(context.Request.Method))
        {
            var info = await source.GetInfoAsync(context.RequestAborted);
            response.Headers.CacheControl = "no-store";
            if (info.Outcome == DurableOutcome.Ok)
            {
                DurableResponses.WriteState(response, info);
                DurableResponses.WriteExpiry(response, info.TtlSeconds, info.ExpiresAt);
            }

            response.StatusCode = DurableResponses.StatusOf(info.Outcome);
            return;
        }

        if (!DurableRequestParser.TryParseRead(context.Request, out var query, out var error))
        {
            await DurableResponses.FailAsync(response, StatusCodes.Status400BadRequest, error!);
            return;
        }

        await DurableReadResponder.RespondAsync(context, source, query, settings, time);
    }

    private static async Task CreateAsync(HttpContext context, string path, string? owner, IDurableStreamStore store, DurableStreamOptions settings)
    {
        var response = context.Response;
        if (!DurableRequestParser.TryParseCreate(context.Request, path, owner, settings.MaxPathLength, out var create, out var error))
        {
            await DurableResponses.FailAsync(response, StatusCodes.Status400BadRequest, error!);
            return;
        }

        var body = await DurableRequestParser.ReadBodyAsync(context, settings.MaxMessageBytes);
        if (body is null)
        {
            return;
        }

        var result = await store.CreateAsync(create with { Body = body.Value }, context.RequestAborted);
        if (result.Outcome is DurableOutcome.Created or DurableOutcome.Exists)
        {
            DurableResponses.WriteState(response, result);
            if (result.Outcome == DurableOutcome.Created)
            {
                response.Headers.Location = context.Request.Scheme + "://" + context.Request.Host + context.Request.PathBase + context.Request.Path;
            }

            response.StatusCode = result.Outcome == DurableOutcome.Created ? StatusCodes.Status201Created : StatusCodes.Status200OK;
            return;
        }

        await DurableResponses.FailAsync(response, DurableResponses.StatusOf(result.Outcome), result.Message ?? result.Outcome.ToString());
    }

    private static async Task AppendAsync(HttpContext context, string path, string? owner, IDurableStreamStore store, DurableStreamOptions settings)
    {
        var response = context.Response;
        if (!DurableRequestParser.TryParseAppend(context.Request, path, owner, out var append, out var error))
        {
            await DurableResponses.FailAsync(response, StatusCodes.Status400BadRequest, error!);
            return;
        }

        var body = await DurableRequestParser.ReadBodyAsync(context, settings.MaxMessageBytes);
        if (body is null)
        {
            return;
        }

        if (!body.Value.IsEmpty && string.IsNullOrEmpty(append.ContentType))
        {
            await DurableResponses.FailAsync(response, StatusCodes.Status400BadRequest, "An append needs a Content-Type.");
            return;
        }

        var result = await store.AppendAsync(append with { Body = body.Value }, context.RequestAborted);
        if (result.ProducerEpoch is { } e)
        {
            response.Headers[DurableHeaders.ProducerEpoch] = e.ToString(CultureInfo.InvariantCulture);
        }

        if (result.ProducerSeq is { } s)
        {
            response.Headers[DurableHeaders.ProducerSeq] = s.ToString(CultureInfo.InvariantCulture);
        }

        switch (result.Outcome)
        {
            case DurableOutcome.Ok or DurableOutcome.Duplicate or DurableOutcome.Accepted:
                DurableResponses.WriteState(response, result);
                response.Headers.ContentType = default;
                response.StatusCode = result.Outcome == DurableOutcome.Accepted && !body.Value.IsEmpty ? StatusCodes.Status200OK : StatusCodes.Status204NoContent;
                return;
            case DurableOutcome.Closed:
                response.Headers[DurableHeaders.Closed] = "true";
                response.Headers[DurableHeaders.NextOffset] = DurableOffset.Format(result.Tail);
                break;
            case DurableOutcome.SequenceGap:
                response.Headers[DurableHeaders.ProducerExpectedSeq] = result.ExpectedSeq?.ToString(CultureInfo.InvariantCulture);
                response.Headers[DurableHeaders.ProducerReceivedSeq] = result.ReceivedSeq?.ToString(CultureInfo.InvariantCulture);
                break;
            case DurableOutcome.Full:
                response.Headers.RetryAfter = "1";
                break;
        }

        await DurableResponses.FailAsync(response, DurableResponses.StatusOf(result.Outcome), result.Message ?? result.Outcome.ToString());
    }
}
