using System.Text.Json;
using Tokenflow.Core.Streams;

namespace Tokenflow.Server.Streams;

/// <summary>
/// The wire names of <see cref="StreamState"/> (<c>running|completed|cancelled|failed</c>), used by every
/// door that reports a stream's status: <c>GET /v1/streams/{id}</c>, the WebSocket <c>done</c> message and
/// the MCP tools' results and output schemas.
/// </summary>
internal static class StreamStateNames
{
    /// <summary>The names as a JSON array, for the <c>enum</c> of a JSON schema.</summary>
    public const string SchemaEnum = """["running", "completed", "cancelled", "failed"]""";

    private static readonly JsonEncodedText Running = JsonEncodedText.Encode("running");
    private static readonly JsonEncodedText Completed = JsonEncodedText.Encode("completed");
    private static readonly JsonEncodedText Cancelled = JsonEncodedText.Encode("cancelled");
    private static readonly JsonEncodedText Failed = JsonEncodedText.Encode("failed");

    /// <summary>The wire name of <paramref name="state"/>, pre-encoded for <see cref="Utf8JsonWriter"/>.</summary>
    public static JsonEncodedText ToJson(StreamState state) => state switch
    {
        StreamState.Running => Running,
        StreamState.Completed => Completed,
        StreamState.Cancelled => Cancelled,
        _ => Failed,
    };

    /// <summary>The wire name of <paramref name="state"/>.</summary>
    public static string ToWire(StreamState state) => ToJson(state).Value;

    /// <summary>The state a stream is in once its terminal event (<paramref name="kind"/> done or error) has been written.</summary>
    public static StreamState EndStateOf(StreamEventKind kind, FinishReason finishReason)
        => kind == StreamEventKind.Error ? StreamState.Failed
            : finishReason == FinishReason.Cancelled ? StreamState.Cancelled
            : StreamState.Completed;
}
