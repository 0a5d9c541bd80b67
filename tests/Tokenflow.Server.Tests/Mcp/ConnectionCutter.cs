using System.Text;

namespace Tokenflow.Server.Tests.Mcp;

/// <summary>
/// An HTTP handler for an MCP client that cuts the response of its first <c>tools/call</c> after
/// a number of progress notifications, as a dropped connection would (the read fails with an
/// <see cref="IOException"/> and the socket is closed); it counts the client's resumes (GETs with
/// <c>Last-Event-ID</c>) and can send them to another server or refuse them.
/// </summary>
internal sealed class ConnectionCutter : DelegatingHandler
{
    private readonly int _cutAfter;
    private int _armed = 1;
    private int _resumes;

    public ConnectionCutter(int cutAfterProgress)
        : base(new SocketsHttpHandler())
    {
        _cutAfter = cutAfterProgress;
    }

    /// <summary>When set, resumes go to this server instead.</summary>
    public Uri? ResumeAt { get; set; }

    /// <summary>When true, resumes fail as if the network were down.</summary>
    public bool RefuseResumes { get; set; }

    /// <summary>GETs with <c>Last-Event-ID</c> the client sent.</summary>
    public int Resumes => Volatile.Read(ref _resumes);

    /// <summary>Completes once the call's response has been cut.</summary>
    public TaskCompletionSource Cut { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Method == HttpMethod.Get && request.Headers.Contains("Last-Event-ID"))
        {
            Interlocked.Increment(ref _resumes);
            if (RefuseResumes)
            {
                throw new HttpRequestException("The test refuses resumes.");
            }

            if (ResumeAt is { } other)
            {
                request.RequestUri = new Uri(other, request.RequestUri!.PathAndQuery);
            }

            return await base.SendAsync(request, cancellationToken);
        }

        var isCall = false;
        if (request.Method == HttpMethod.Post && request.Content is { } content && Volatile.Read(ref _armed) == 1)
        {
            await content.LoadIntoBufferAsync(cancellationToken);
            isCall = (await content.ReadAsStringAsync(cancellationToken)).Contains("\"tools/call\"", StringComparison.Ordinal);
        }

        var response = await base.SendAsync(request, cancellationToken);
        if (isCall && Interlocked.Exchange(ref _armed, 0) == 1)
        {
            var cut = new StreamContent(new CuttingStream(await response.Content.ReadAsStreamAsync(cancellationToken), _cutAfter, this));
            foreach (var header in response.Content.Headers)
            {
                cut.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }

            response.Content = cut;
        }

        return response;
    }

    private sealed class CuttingStream(Stream inner, int cutAfter, ConnectionCutter owner) : Stream
    {
        private static readonly string Marker = "notifications/progress";
        private readonly StringBuilder _window = new();
        private int _seen;
        private bool _cut;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_cut)
            {
                throw new IOException("The test cut the connection.");
            }

            var read = await inner.ReadAsync(buffer, cancellationToken);
            _window.Append(Encoding.UTF8.GetString(buffer.Span[..read]));
            var text = _window.ToString();
            for (var at = text.IndexOf(Marker, StringComparison.Ordinal); at >= 0; at = text.IndexOf(Marker, at + 1, StringComparison.Ordinal))
            {
                _seen++;
            }

            // Keep only what could start a marker split across reads.
            _window.Clear().Append(text[Math.Max(0, text.Length - (Marker.Length - 1))..]);
            if (_seen >= cutAfter)
            {
                _cut = true;
                await inner.DisposeAsync();
                owner.Cut.TrySetResult();
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
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
