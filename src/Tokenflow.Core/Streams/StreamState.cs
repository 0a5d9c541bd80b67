namespace Tokenflow.Core.Streams;

/// <summary>Lifecycle state of a stream.</summary>
public enum StreamState : byte
{
    /// <summary>Its writer is still producing.</summary>
    Running,

    /// <summary>Ended normally (stop or length).</summary>
    Completed,

    /// <summary>Ended by a cancel or because every reader left.</summary>
    Cancelled,

    /// <summary>Ended with an error event.</summary>
    Failed,
}
