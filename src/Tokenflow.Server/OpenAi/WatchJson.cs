using System.Text.Json;
using Tokenflow.Core.Streams;

namespace Tokenflow.Server.OpenAi;

/// <summary>Writes a fired watch as <c>"watch":{"watch_id","seq","match"}</c> (DESIGN.md "Watches"), for every door that shows one.</summary>
internal static class WatchJson
{
    /// <summary>Writes the <c>watch</c> property; the writer is inside an object.</summary>
    public static void Write(Utf8JsonWriter w, WatchMatch watch)
    {
        w.WriteStartObject("watch"u8);
        WriteFields(w, watch);
        w.WriteEndObject();
    }

    /// <summary>Writes <c>watch_id</c>, <c>seq</c> and <c>match</c> into the object the writer is in.</summary>
    public static void WriteFields(Utf8JsonWriter w, WatchMatch watch)
    {
        w.WriteString("watch_id"u8, watch.WatchId);
        w.WriteNumber("seq"u8, watch.Seq);
        w.WritePropertyName("match"u8);
        w.WriteRawValue(watch.MatchJson, skipInputValidation: true);
    }
}
