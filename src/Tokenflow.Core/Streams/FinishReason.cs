namespace Tokenflow.Core.Streams;

/// <summary>Why a generation ended.</summary>
public enum FinishReason : byte
{
    /// <summary>Not finished.</summary>
    None = 0,

    /// <summary>The model ended its text or a stop sequence matched.</summary>
    Stop = 1,

    /// <summary><c>max_tokens</c> reached.</summary>
    Length = 2,

    /// <summary>Cancelled explicitly or abandoned by every reader.</summary>
    Cancelled = 3,

    /// <summary>Failed; see the error event.</summary>
    Error = 4,

    /// <summary>The model called one or more tools.</summary>
    ToolCalls = 5,

    /// <summary>The upstream provider's content filter stopped the output.</summary>
    ContentFilter = 6,
}

/// <summary>Wire names of <see cref="FinishReason"/>.</summary>
public static class FinishReasonNames
{
    /// <summary>The OpenAI wire name ("stop", "length", "cancelled", "tool_calls", …), or null for <see cref="FinishReason.None"/>.</summary>
    public static string? ToWire(this FinishReason reason) => reason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        FinishReason.Cancelled => "cancelled",
        FinishReason.Error => "error",
        FinishReason.ToolCalls => "tool_calls",
        FinishReason.ContentFilter => "content_filter",
        _ => null,
    };
}
