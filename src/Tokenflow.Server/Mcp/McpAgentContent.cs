using System.Text.Json;
using System.Text.Json.Serialization;
using Tokenflow.Core.Streams;

namespace Tokenflow.Server.Mcp;

/// <summary>A tool call of a generation, in a tool's structured result.</summary>
internal sealed record McpToolCall(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("arguments")] string Arguments);

/// <summary>
/// What a <c>read_stream</c> window holds of one tool call: the argument text read in it, and the
/// call's id and function name when its first fragment is among the events read.
/// </summary>
internal sealed record McpToolCallFragment(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("arguments")] string Arguments)
{
    [JsonPropertyName("id")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Id { get; init; }

    [JsonPropertyName("name")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Name { get; init; }
}

/// <summary>A watch that fired, in a tool's structured result.</summary>
internal sealed record McpWatch(
    [property: JsonPropertyName("watch_id")] string WatchId,
    [property: JsonPropertyName("seq")] long Seq,
    [property: JsonPropertyName("match")] JsonElement Match)
{
    public static McpWatch From(WatchMatch watch)
    {
        using var document = JsonDocument.Parse(watch.MatchJson);
        return new McpWatch(watch.WatchId, watch.Seq, document.RootElement.Clone());
    }

    /// <summary>The progress message of a fired watch: <c>watch: &lt;id&gt; &lt;match JSON&gt;</c> (DESIGN.md "Watches").</summary>
    public static string ProgressMessage(WatchMatch watch) => $"watch: {watch.WatchId} {watch.MatchJson}";
}
