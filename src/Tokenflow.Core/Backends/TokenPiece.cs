using Tokenflow.Core.Streams;

namespace Tokenflow.Core.Backends;

/// <summary>
/// One token (or one upstream chunk) produced by a backend: its raw UTF-8 bytes (which may end or
/// start in the middle of a character), the channel they belong to and, when the backend has one,
/// its token id. A tool call's pieces carry its index; its first piece also its id and name.
/// </summary>
/// <remarks>
/// The bytes are only valid until the backend is asked for the next piece: a backend may reuse its
/// buffer, so consumers copy what they keep. Only <see cref="DeltaChannel.Content"/> passes
/// through stop sequences; every channel is decoded to whole characters on its own.
/// </remarks>
public readonly struct TokenPiece
{
    /// <summary>Creates a piece of answer text from its bytes and optional token id (-1 when unknown).</summary>
    public TokenPiece(ReadOnlyMemory<byte> utf8, int tokenId = -1)
    {
        Utf8 = utf8;
        TokenId = tokenId;
    }

    private TokenPiece(ReadOnlyMemory<byte> utf8, int tokenId, DeltaChannel channel, int toolCallIndex, string? toolCallId, string? toolName)
    {
        Utf8 = utf8;
        TokenId = tokenId;
        Channel = channel;
        ToolCallIndex = toolCallIndex;
        ToolCallId = toolCallId;
        ToolName = toolName;
    }

    /// <summary>A piece of the model's reasoning.</summary>
    public static TokenPiece Reasoning(ReadOnlyMemory<byte> utf8, int tokenId = -1)
        => new(utf8, tokenId, DeltaChannel.Reasoning, 0, null, null);

    /// <summary>A piece of a refusal message.</summary>
    public static TokenPiece Refusal(ReadOnlyMemory<byte> utf8, int tokenId = -1)
        => new(utf8, tokenId, DeltaChannel.Refusal, 0, null, null);

    /// <summary>
    /// The start of tool call <paramref name="index"/> (0, 1, … in the order the model makes them):
    /// its id, the function's name and the first bytes of its JSON arguments (may be empty).
    /// </summary>
    public static TokenPiece ToolCallStart(int index, string id, string name, ReadOnlyMemory<byte> arguments, int tokenId = -1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(index, ushort.MaxValue);
        return new(arguments, tokenId, DeltaChannel.ToolCall, index, id, name);
    }

    /// <summary>More bytes of the JSON arguments of tool call <paramref name="index"/>, started earlier.</summary>
    public static TokenPiece ToolCallArguments(int index, ReadOnlyMemory<byte> arguments, int tokenId = -1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(index, ushort.MaxValue);
        return new(arguments, tokenId, DeltaChannel.ToolCall, index, null, null);
    }

    /// <summary>The token's bytes; possibly an incomplete UTF-8 sequence.</summary>
    public ReadOnlyMemory<byte> Utf8 { get; }

    /// <summary>The backend's token id, or -1 when the backend has none.</summary>
    public int TokenId { get; }

    /// <summary>Which channel the bytes belong to.</summary>
    public DeltaChannel Channel { get; }

    /// <summary>The tool call's index (<see cref="DeltaChannel.ToolCall"/> only).</summary>
    public int ToolCallIndex { get; }

    /// <summary>The tool call's id, on its first piece only.</summary>
    public string? ToolCallId { get; }

    /// <summary>The called function's name, on the tool call's first piece only.</summary>
    public string? ToolName { get; }
}
