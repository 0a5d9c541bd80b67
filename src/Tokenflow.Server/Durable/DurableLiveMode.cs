namespace Tokenflow.Server.Durable;

/// <summary>The <c>live</c> query parameter of a read (§5.6–5.8).</summary>
internal enum DurableLiveMode
{
    /// <summary>Catch-up: answer with what is there now.</summary>
    None,

    /// <summary><c>live=long-poll</c>: wait for data when there is none, then answer once.</summary>
    LongPoll,

    /// <summary><c>live=sse</c>: stream data and control events until closure or the connection's lifetime.</summary>
    Sse,
}
