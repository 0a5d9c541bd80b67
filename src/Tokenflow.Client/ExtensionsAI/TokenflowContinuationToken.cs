using System.Globalization;
using System.Text;
using Microsoft.Extensions.AI;

namespace Tokenflow.Client;

/// <summary>
/// Encodes a resume point — stream id and the seq of the last event seen — as a
/// <see cref="ResponseContinuationToken"/>. The bytes are <c>tokenflow:&lt;id&gt;:&lt;seq&gt;</c>, so a token
/// saved with <see cref="ResponseContinuationToken.ToBytes"/> survives a process restart.
/// </summary>
internal static class TokenflowContinuationToken
{
    private const string Prefix = "tokenflow:";

    public static ResponseContinuationToken Create(string streamId, long seq)
        => ResponseContinuationToken.FromBytes(Encoding.UTF8.GetBytes($"{Prefix}{streamId}:{seq.ToString(CultureInfo.InvariantCulture)}"));

    public static (string StreamId, long After) Read(ResponseContinuationToken token)
    {
        var text = Encoding.UTF8.GetString(token.ToBytes().Span);
        var colon = text.LastIndexOf(':');
        if (!text.StartsWith(Prefix, StringComparison.Ordinal) || colon <= Prefix.Length
            || !long.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var seq))
        {
            throw new ArgumentException("The continuation token was not issued by a Tokenflow chat client.", nameof(token));
        }

        return (text[Prefix.Length..colon], seq);
    }
}
