using System.Text.Json.Serialization;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Tokenflow.Core.Generation;
using Tokenflow.Server.OpenAi;

namespace Tokenflow.Server.Mcp;

/// <summary>
/// <c>start_generation</c>: starts a generation and returns its stream id at once. The stream is a
/// background stream — it runs to its end with nobody reading (or until <c>cancel_stream</c>) — so
/// an agent can read it in steps with <c>read_stream</c>, however its client treats progress.
/// </summary>
internal sealed class StartGenerationTool : StreamTool
{
    private readonly GenerationArguments _generation;
    private readonly GenerationRunner _runner;
    private readonly StreamAccess _streams;

    public StartGenerationTool(GenerationArguments generation, GenerationRunner runner, StreamAccess streams)
        : base(
            new Tool
            {
                Name = "start_generation",
                Title = "Start a generation",
                Description = "Starts generating text in the background and returns its stream_id at once. Read the output as it grows "
                    + "with read_stream, stop it early with cancel_stream. The same stream is readable over HTTP at /v1/streams/{stream_id}/events "
                    + "and as the resource tokenflow://streams/{stream_id}.",
                InputSchema = generation.InputSchema,
                OutputSchema = Schema("""
                    {
                      "type": "object",
                      "properties": {
                        "stream_id": { "type": "string", "description": "Pass to read_stream and cancel_stream." }
                      },
                      "required": ["stream_id"]
                    }
                    """),
                Annotations = new ToolAnnotations { ReadOnlyHint = false, DestructiveHint = false, IdempotentHint = false, OpenWorldHint = false },
            },
            GenerationArguments.Names)
    {
        _generation = generation;
        _runner = runner;
        _streams = streams;
    }

    protected override async ValueTask<CallToolResult> InvokeAsync(RequestContext<CallToolRequestParams> request, ToolArguments args, CancellationToken cancellationToken)
    {
        var completion = _generation.Read(args, _streams.Owner, background: true, out var error);
        if (completion is null)
        {
            return Failure(error!);
        }

        var started = await _runner.StartAsync(completion.Model, completion.Backend, completion.Generation, cancellationToken);
        if (started.StreamId is not { } id)
        {
            return Failure(OpenAiError.StartRefused(started.Status).Message);
        }

        var result = Success(new Output(id), McpJsonContext.Default.StartGenerationOutput);
        result.Content.Add(new ResourceLinkBlock { Uri = StreamResource.UriOf(id), Name = id, MimeType = "text/plain", Description = "The stream's text so far." });
        return result;
    }

    /// <summary>The structured result.</summary>
    internal sealed record Output([property: JsonPropertyName("stream_id")] string StreamId);
}
