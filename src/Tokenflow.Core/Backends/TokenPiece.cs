namespace Tokenflow.Core.Backends;

/// <summary>
/// One token produced by a backend: its raw UTF-8 bytes (which may end or start in the middle of a
/// character) and, when the backend has one, its token id.
/// </summary>
/// <remarks>
/// The bytes are only valid until the backend is asked for the next piece: a backend may reuse its
/// buffer, so consumers copy what they keep.
/// </remarks>
public readonly struct TokenPiece
{
    /// <summary>Creates a piece from its bytes and optional token id (-1 when unknown).</summary>
    public TokenPiece(ReadOnlyMemory<byte> utf8, int tokenId = -1)
    {
        Utf8 = utf8;
        TokenId = tokenId;
    }

    /// <summary>The token's bytes; possibly an incomplete UTF-8 sequence.</summary>
    public ReadOnlyMemory<byte> Utf8 { get; }

    /// <summary>The backend's token id, or -1 when the backend has none.</summary>
    public int TokenId { get; }
}
