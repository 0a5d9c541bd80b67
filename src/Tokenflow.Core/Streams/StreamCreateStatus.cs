namespace Tokenflow.Core.Streams;

/// <summary>Outcome of creating a stream.</summary>
public enum StreamCreateStatus
{
    /// <summary>Created; the writer is ready.</summary>
    Created,

    /// <summary>The store is at its stream or memory limit (maps to 503).</summary>
    Full,

    /// <summary>A stream with that id exists.</summary>
    Exists,

    /// <summary>The store's backing service (e.g. Redis) cannot be reached (maps to 503).</summary>
    Unavailable,
}
