namespace Tokenflow.Core.Streams;

/// <summary>The outcome of <see cref="StreamAccess.OpenAsync"/>: a reader and the stream's descriptor, or why not.</summary>
/// <param name="Status">Opened, or why not.</param>
/// <param name="Reader">The reader when opened; the caller disposes it.</param>
/// <param name="Descriptor">The stream's descriptor when opened.</param>
public readonly record struct StreamOpening(StreamOpenStatus Status, IStreamReader? Reader, StreamDescriptor? Descriptor);
