using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.AspNetCore;
using ModelContextProtocol.Protocol;
using Tokenflow.Core.Streams;
using Tokenflow.Server.Hosting;

namespace Tokenflow.Server.Mcp;

/// <summary>
/// Lets a stateful MCP session continue on another server process (the SDK's
/// <see cref="ISessionMigrationHandler"/>): the session's <c>initialize</c> parameters are kept in the
/// stream store — one small completed stream per session, so with the Redis store every process
/// sees them for the store's completed-stream TTL — and a request carrying an unknown
/// <c>Mcp-Session-Id</c> is admitted when they exist and the caller is the session's API-key owner.
/// </summary>
internal sealed partial class McpSessionMigration : ISessionMigrationHandler
{
    /// <summary>The model name recorded on session records.</summary>
    public const string RecordModel = "mcp-session";

    private static readonly System.Text.Json.Serialization.Metadata.JsonTypeInfo<InitializeRequestParams> ParamsType =
        (System.Text.Json.Serialization.Metadata.JsonTypeInfo<InitializeRequestParams>)McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(InitializeRequestParams));

    private readonly IStreamStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger<McpSessionMigration> _logger;

    public McpSessionMigration(IStreamStore store, TimeProvider time, ILogger<McpSessionMigration> logger)
    {
        _store = store;
        _time = time;
        _logger = logger;
    }

    /// <inheritdoc />
    public async ValueTask OnSessionInitializedAsync(HttpContext context, string sessionId, InitializeRequestParams initializeParams, CancellationToken cancellationToken)
    {
        var (status, writer) = await _store.CreateAsync(
            new StreamDescriptor
            {
                Id = RecordId(sessionId),
                Model = RecordModel,
                Created = _time.GetUtcNow().ToUnixTimeSeconds(),
                Background = true,
                Owner = ApiKeys.OwnerOf(context),
            },
            cancellationToken).ConfigureAwait(false);
        if (writer is null)
        {
            // The session still works here; it just cannot move to another process.
            LogNotStored(sessionId, status);
            return;
        }

        await using (writer.ConfigureAwait(false))
        {
            writer.TryAppendDelta(JsonSerializer.SerializeToUtf8Bytes(initializeParams, ParamsType));
            writer.Complete(FinishReason.Stop, default, default);
            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask<InitializeRequestParams?> AllowSessionMigrationAsync(HttpContext context, string sessionId, CancellationToken cancellationToken)
    {
        if (sessionId.Length is 0 or > 128)
        {
            return null;
        }

        var id = RecordId(sessionId);
        var descriptor = await _store.GetDescriptorAsync(id, cancellationToken).ConfigureAwait(false);
        if (descriptor is null || descriptor.Model != RecordModel || descriptor.Owner != ApiKeys.OwnerOf(context))
        {
            return null;
        }

        var (_, reader) = await _store.OpenReaderAsync(id, 0, cancellationToken).ConfigureAwait(false);
        if (reader is null)
        {
            return null;
        }

        await using (reader.ConfigureAwait(false))
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            while (await reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var e))
                {
                    if (e.Kind == StreamEventKind.Delta)
                    {
                        var restored = JsonSerializer.Deserialize(e.Text.Span, ParamsType);
                        LogMigrated(sessionId);
                        return restored;
                    }

                    if (e.IsTerminal)
                    {
                        return null;
                    }
                }
            }
        }

        return null;
    }

    // The record's id is derived from the session id, which never appears in it: knowing a record id gives no session.
    private static string RecordId(string sessionId)
        => "mcpsession-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sessionId)).AsSpan(0, 16));

    [LoggerMessage(Level = LogLevel.Warning, Message = "MCP session {SessionId}: its initialize parameters were not stored ({Status}); it cannot migrate to another process.")]
    private partial void LogNotStored(string sessionId, StreamCreateStatus status);

    [LoggerMessage(Level = LogLevel.Information, Message = "MCP session {SessionId} continues on this process.")]
    private partial void LogMigrated(string sessionId);
}
