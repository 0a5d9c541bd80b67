using System.Diagnostics;

namespace Tokenflow.Cli.Bench;

/// <summary>
/// Sits under the MCP SDK's <see cref="HttpClient"/> and wraps each SSE response (a <c>tools/call</c>'s stream) so
/// that a cancel can be timed to the server's last byte. The SDK, when a call is cancelled, sends
/// <c>notifications/cancelled</c> and abandons the response; left alone, that closes the connection, and what the
/// server does next cannot be seen. So reads go to the network without the caller's token (cancelling a read on
/// an HTTP/1.1 response tears the connection down), and a disposed stream is drained in the background up to a
/// limit: the server's last byte — its end of the response — is then on record. The SDK hides exactly that moment,
/// which is why this exists.
/// </summary>
internal sealed class McpResponseTap : DelegatingHandler
{
    private readonly TimeSpan _drainLimit;
    private TappedStream? _current;

    public McpResponseTap(TimeSpan drainLimit)
        : base(new SocketsHttpHandler { UseProxy = false, UseCookies = false, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
    {
        _drainLimit = drainLimit;
    }

    /// <summary>The newest SSE response (one call at a time per worker, so: the running call's).</summary>
    public TappedStream? Current => Volatile.Read(ref _current);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (request.Method == HttpMethod.Post && response.Content.Headers.ContentType?.MediaType == "text/event-stream")
        {
            var inner = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            var tapped = new TappedStream(inner, _drainLimit);
            var content = new StreamContent(tapped);
            foreach (var header in response.Content.Headers)
            {
                content.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }

            response.Content = content;
            Volatile.Write(ref _current, tapped);
        }

        return response;
    }

    /// <summary>A response stream that records its last byte and, once abandoned, reads on to the end.</summary>
    internal sealed class TappedStream(Stream inner, TimeSpan drainLimit) : Stream
    {
        private readonly byte[] _own = new byte[16 * 1024];
        private readonly TaskCompletionSource<(long LastByte, bool Ended)> _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private Task<int>? _pending;
        private long _lastByte;
        private int _disposed;

        /// <summary>When the last byte (or the end) arrived, in <see cref="Stopwatch"/> ticks, and whether the server ended the response.</summary>
        public Task<(long LastByte, bool Ended)> Drained => _drained.Task;

        /// <summary>When the latest byte arrived, in <see cref="Stopwatch"/> ticks (0: none yet).</summary>
        public long LastByte => Volatile.Read(ref _lastByte);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            // The read runs without the caller's token and into this stream's own buffer: if the caller gives up on
            // it, the read stays valid for the drain and never writes into a buffer that is no longer the caller's.
            _pending ??= inner.ReadAsync(_own.AsMemory(0, Math.Min(_own.Length, buffer.Length)), CancellationToken.None).AsTask();
            var read = await _pending.WaitAsync(cancellationToken).ConfigureAwait(false);
            _pending = null;
            if (read > 0)
            {
                Volatile.Write(ref _lastByte, Stopwatch.GetTimestamp());
                _own.AsMemory(0, read).CopyTo(buffer);
            }
            else
            {
                // The end of the response (the last chunk, or the connection's close) is the server's last byte.
                _drained.TrySetResult((Stopwatch.GetTimestamp(), true));
            }

            return read;
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _ = DrainAsync();
            }

            base.Dispose(disposing);
        }

        private async Task DrainAsync()
        {
            using var limit = new CancellationTokenSource(drainLimit);
            var ended = false;
            try
            {
                while (!_drained.Task.IsCompleted)
                {
                    var read = await (_pending ?? inner.ReadAsync(_own, CancellationToken.None).AsTask()).WaitAsync(limit.Token).ConfigureAwait(false);
                    _pending = null;
                    if (read == 0)
                    {
                        Volatile.Write(ref _lastByte, Stopwatch.GetTimestamp());
                        ended = true;
                        break;
                    }

                    Volatile.Write(ref _lastByte, Stopwatch.GetTimestamp());
                }
            }
            catch (OperationCanceledException)
            {
                // The server did not end the response within the limit: closing it below is the cancel of last resort.
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException)
            {
                Volatile.Write(ref _lastByte, Stopwatch.GetTimestamp());
                ended = true;
            }
            finally
            {
                _drained.TrySetResult((Volatile.Read(ref _lastByte), ended));
                await inner.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
