using System.Globalization;
using StackExchange.Redis;
using Tokenflow.Core.Streams;

namespace Tokenflow.Redis;

/// <summary>A stream's meta hash, parsed: what it was created with and how it stands.</summary>
internal sealed record StreamMeta(StreamDescriptor Descriptor, string Node, StreamState State, long LastSeq, Usage Usage)
{
    /// <summary>The first seq Redis still holds (above 1 once retention "none" trimmed the stream).</summary>
    public long FirstHeld { get; init; } = 1;

    public const string NodeField = "node";
    public const string StateField = "state";
    public const string ReaderFieldPrefix = "r:";

    /// <summary>The field/value pairs a new stream's meta hash starts with.</summary>
    public static RedisValue[] Fields(StreamDescriptor descriptor, string node)
    {
        var values = new List<RedisValue>(20)
        {
            "model", descriptor.Model,
            "created", descriptor.Created,
            "bg", descriptor.Background ? 1 : 0,
            NodeField, node,
            StateField, StateName(StreamState.Running),
        };
        if (descriptor.ResumeGrace is { } grace)
        {
            values.Add("grace");
            values.Add((long)grace.TotalMilliseconds);
        }

        if (descriptor.Retention is { } retention)
        {
            values.Add("ret");
            values.Add((int)retention);
        }

        if (descriptor.Owner is not null)
        {
            values.Add("owner");
            values.Add(descriptor.Owner);
        }

        if (descriptor.Metadata is not null)
        {
            values.Add("metadata");
            values.Add(descriptor.Metadata);
        }

        if (descriptor.Context is not null)
        {
            values.Add("ctx");
            values.Add(descriptor.Context);
        }

        return [.. values];
    }

    public static string StateName(StreamState state) => state switch
    {
        StreamState.Running => "running",
        StreamState.Completed => "completed",
        StreamState.Cancelled => "cancelled",
        _ => "failed",
    };

    public static StreamMeta? Parse(string id, HashEntry[] entries)
    {
        if (entries.Length == 0)
        {
            return null;
        }

        var values = new Dictionary<string, RedisValue>(entries.Length, StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            values[entry.Name.ToString()] = entry.Value;
        }

        return Parse(id, values);
    }

    /// <summary>Parses a flat HGETALL reply (field, value, field, value …) as returned by a script.</summary>
    public static StreamMeta? Parse(string id, RedisResult result)
    {
        if (result.IsNull || result.Length == 0)
        {
            return null;
        }

        var values = new Dictionary<string, RedisValue>(result.Length / 2, StringComparer.Ordinal);
        for (var i = 0; i + 1 < result.Length; i += 2)
        {
            values[result[i].ToString()] = (RedisValue)result[i + 1];
        }

        return Parse(id, values);
    }

    private static StreamMeta? Parse(string id, Dictionary<string, RedisValue> values)
    {
        if (!values.TryGetValue("model", out var model))
        {
            return null;
        }

        var descriptor = new StreamDescriptor
        {
            Id = id,
            Model = model.ToString(),
            Created = Long(values, "created"),
            Background = Long(values, "bg") == 1,
            ResumeGrace = values.TryGetValue("grace", out var grace) && grace.TryParse(out long ms) ? TimeSpan.FromMilliseconds(ms) : null,
            Retention = values.TryGetValue("ret", out var ret) && ret.TryParse(out int r) ? (StreamRetention)r : null,
            Owner = values.TryGetValue("owner", out var owner) ? owner.ToString() : null,
            Metadata = values.TryGetValue("metadata", out var metadata) ? metadata.ToString() : null,
            Context = values.TryGetValue("ctx", out var context) ? context.ToString() : null,
        };
        var state = values.TryGetValue(StateField, out var s) ? s.ToString() switch
        {
            "running" => StreamState.Running,
            "completed" => StreamState.Completed,
            "cancelled" => StreamState.Cancelled,
            _ => StreamState.Failed,
        } : StreamState.Failed;
        var node = values.TryGetValue(NodeField, out var n) ? n.ToString() : string.Empty;
        return new StreamMeta(descriptor, node, state, Long(values, "last"), new Usage((int)Long(values, "pt"), (int)Long(values, "ct")))
        {
            FirstHeld = Math.Max(1, Long(values, "held")),
        };
    }

    private static long Long(Dictionary<string, RedisValue> values, string field)
        => values.TryGetValue(field, out var value) && long.TryParse(value.ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var result) ? result : 0;

    /// <summary>The seq of the last event a stream entry id (<c>&lt;seq&gt;-0</c>) carries.</summary>
    public static long SeqOf(RedisValue entryId)
    {
        var text = entryId.ToString();
        var dash = text.IndexOf('-', StringComparison.Ordinal);
        return long.Parse(dash < 0 ? text : text.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture);
    }
}
