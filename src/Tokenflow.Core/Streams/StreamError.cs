namespace Tokenflow.Core.Streams;

/// <summary>An error carried by a terminal <see cref="StreamEventKind.Error"/> event, in OpenAI's shape.</summary>
/// <param name="Message">Human-readable description.</param>
/// <param name="Type">OpenAI error type, e.g. "server_error".</param>
/// <param name="Code">Machine-readable code, e.g. "backend_failed".</param>
public sealed record StreamError(string Message, string Type, string? Code);
