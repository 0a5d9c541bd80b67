using Tokenflow.Core.Streams;

namespace Tokenflow.Core.Generation;

/// <summary>Result of starting a generation.</summary>
/// <param name="Status">Created, or why the store refused the stream.</param>
/// <param name="StreamId">The new stream's id when created.</param>
/// <param name="Created">Creation time, Unix seconds.</param>
public readonly record struct GenerationStart(StreamCreateStatus Status, string? StreamId, long Created);
