namespace Tokenflow.Core.Watches;

/// <summary>What became of a watch added to a running generation.</summary>
public enum WatchAddResult
{
    /// <summary>Added; it fires at the next content delta that completes a match.</summary>
    Added,

    /// <summary>The generation is not running in this process (ended, or running elsewhere).</summary>
    NotRunning,

    /// <summary>The stream already has a watch with this id.</summary>
    DuplicateId,
}
