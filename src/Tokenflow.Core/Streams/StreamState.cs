namespace Tokenflow.Core.Streams;

/// <summary>Lifecycle state of a stream.</summary>
public enum StreamState : byte
{
    /// <summary>Its writer is still producing.</summary>
    Running = 0,

    /// <summary>Ended normally (stop or length).</summary>
    Completed = 1,

    /// <summary>Ended by a cancel or because every reader left.</summary>
    Cancelled = 2,

    /// <summary>Ended with an error event.</summary>
    Failed = 3,
}
