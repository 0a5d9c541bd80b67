namespace Tokenflow.Core.Streams;

/// <summary>Outcome of opening a reader.</summary>
public enum StreamOpenStatus
{
    /// <summary>Open; read from the requested position.</summary>
    Opened,

    /// <summary>No such stream (never existed or expired).</summary>
    NotFound,

    /// <summary>The requested position is before what the store still holds.</summary>
    Truncated,
}
