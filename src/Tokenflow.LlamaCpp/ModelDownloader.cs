using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tokenflow.LlamaCpp.ModelFiles;

namespace Tokenflow.LlamaCpp;

/// <summary>
/// Downloads <c>hf:</c> model files into a local cache, once: <c>{endpoint}/{repo}/resolve/main/{file}</c>
/// into <c>{cache}/{repo}/{file}</c>. A download goes to a <c>.part</c> file that a later attempt resumes
/// with an HTTP <c>Range</c> request, is checked against the size the server announced, and is renamed
/// into place only when complete; a cached file is served without any network access. Thread-safe: one
/// download per file at a time within the process.
/// </summary>
public sealed partial class ModelDownloader
{
    /// <summary>The name of the <see cref="HttpClient"/> registered for downloads.</summary>
    public const string HttpClientName = "Tokenflow.ModelDownload";

    private const int CopyBufferSize = 1 << 16;
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> FileGates = new(StringComparer.Ordinal);

    private readonly HttpClient _httpClient;
    private readonly ILogger _logger;
    private readonly Uri _endpoint;
    private readonly string? _token;
    private readonly TimeSpan _stallTimeout;

    /// <summary>
    /// Creates a downloader that sends its requests through <paramref name="httpClient"/> (whose own
    /// <see cref="HttpClient.Timeout"/> should be infinite: downloads are bounded by
    /// <see cref="ModelDownloadOptions.StallTimeout"/> instead).
    /// </summary>
    public ModelDownloader(HttpClient httpClient, ModelDownloadOptions options, ILogger<ModelDownloader>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        ArgumentNullException.ThrowIfNull(options);
        _httpClient = httpClient;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        var endpoint = FirstNonEmpty(options.Endpoint, Environment.GetEnvironmentVariable("HF_ENDPOINT")) ?? ModelDownloadOptions.DefaultEndpoint;
        if (!Uri.TryCreate(endpoint.TrimEnd('/') + "/", UriKind.Absolute, out var endpointUri) || endpointUri.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"The model download endpoint '{endpoint}' is not an absolute http(s) address.", nameof(options));
        }

        _endpoint = endpointUri;
        _token = FirstNonEmpty(options.Token, Environment.GetEnvironmentVariable("HF_TOKEN"));
        _stallTimeout = options.StallTimeout > TimeSpan.Zero ? options.StallTimeout : TimeSpan.FromSeconds(60);
        CacheDirectory = Path.GetFullPath(FirstNonEmpty(options.CacheDirectory) ?? DefaultCacheDirectory());
    }

    /// <summary>The folder downloaded models are kept in.</summary>
    public string CacheDirectory { get; }

    /// <summary>Where the file of <paramref name="reference"/> is (or will be) cached.</summary>
    public string GetCachePath(ModelReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (!reference.IsHuggingFace)
        {
            throw new ArgumentException($"'{reference}' is a local path, not an hf: reference.", nameof(reference));
        }

        return Path.Join([CacheDirectory, .. reference.Repository!.Split('/'), .. reference.File!.Split('/')]);
    }

    /// <summary>The address the file of <paramref name="reference"/> is downloaded from.</summary>
    public Uri GetDownloadUri(ModelReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var path = string.Join('/', reference.Repository!.Split('/').Concat(["resolve", "main"]).Concat(reference.File!.Split('/')).Select(Uri.EscapeDataString));
        return new Uri(_endpoint, path);
    }

    /// <summary>
    /// Returns the local path of the model file of <paramref name="reference"/>, downloading it first
    /// unless it is cached. Throws <see cref="ModelNotFoundException"/> (404),
    /// <see cref="ModelSizeMismatchException"/> (wrong size; nothing cached) or
    /// <see cref="ModelDownloadException"/> (network failure, stall or other HTTP error).
    /// </summary>
    public async Task<string> DownloadAsync(ModelReference reference, CancellationToken cancellationToken = default)
    {
        var target = GetCachePath(reference);
        if (File.Exists(target))
        {
            return target;
        }

        var gate = FileGates.GetOrAdd(target, static _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (File.Exists(target))
            {
                return target;
            }

            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            var uri = GetDownloadUri(reference);
            LogDownloadStarting(_logger, reference.Value, uri, target);
            var started = Stopwatch.GetTimestamp();
            var size = await DownloadToAsync(uri, target, restartAllowed: true, cancellationToken).ConfigureAwait(false);
            LogDownloaded(_logger, reference.Value, size / (1024.0 * 1024.0), Stopwatch.GetElapsedTime(started).TotalSeconds);
            return target;
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<long> DownloadToAsync(Uri uri, string target, bool restartAllowed, CancellationToken cancellationToken)
    {
        var part = target + ".part";
        var existing = File.Exists(part) ? new FileInfo(part).Length : 0;

        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        if (_token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        }

        if (existing > 0)
        {
            request.Headers.Range = new RangeHeaderValue(existing, null);
        }

        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stall.CancelAfter(_stallTimeout);
        HttpResponseMessage response;
        try
        {
            response = await _httpClient.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stall.Token).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new ModelDownloadException($"Could not download {uri}: {ex.Message}", ex) { RequestUri = uri };
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ModelDownloadException($"Could not download {uri}: no response within {_stallTimeout.TotalSeconds:0} s.", ex) { RequestUri = uri };
        }

        using (response)
        {
            long offset;
            long? total;
            switch (response.StatusCode)
            {
                case HttpStatusCode.PartialContent when existing > 0:
                    var range = response.Content.Headers.ContentRange;
                    if (range?.From != existing)
                    {
                        // A range we did not ask for: start over rather than splice mismatched bytes.
                        File.Delete(part);
                        return restartAllowed
                            ? await DownloadToAsync(uri, target, restartAllowed: false, cancellationToken).ConfigureAwait(false)
                            : throw new ModelDownloadException($"{uri} answered a range request with the wrong range ({range}).") { RequestUri = uri, StatusCode = 206 };
                    }

                    LogResuming(_logger, uri, existing);
                    offset = existing;
                    total = range.Length;
                    break;

                case HttpStatusCode.OK:
                    // Also the answer of a server that ignores Range: the whole file again, from byte 0.
                    offset = 0;
                    total = response.Content.Headers.ContentLength;
                    break;

                case HttpStatusCode.RequestedRangeNotSatisfiable when existing > 0:
                    // The part may already hold the whole file (the rename was interrupted).
                    if (response.Content.Headers.ContentRange?.Length == existing)
                    {
                        File.Move(part, target, overwrite: true);
                        return existing;
                    }

                    File.Delete(part);
                    return restartAllowed
                        ? await DownloadToAsync(uri, target, restartAllowed: false, cancellationToken).ConfigureAwait(false)
                        : throw new ModelDownloadException($"{uri} refused the range request (416).") { RequestUri = uri, StatusCode = 416 };

                case HttpStatusCode.NotFound:
                    throw new ModelNotFoundException($"Model file not found: {uri} answered 404. Check the repository and file name of the hf: reference.")
                    {
                        RequestUri = uri,
                        StatusCode = 404,
                    };

                case HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden:
                    throw new ModelDownloadException(
                        $"{uri} answered {(int)response.StatusCode} {response.ReasonPhrase}: the repository is gated or private. Set HF_TOKEN (or Tokenflow:ModelDownload:Token) to an access token that may read it.")
                    {
                        RequestUri = uri,
                        StatusCode = (int)response.StatusCode,
                    };

                default:
                    throw new ModelDownloadException($"{uri} answered {(int)response.StatusCode} {response.ReasonPhrase}.")
                    {
                        RequestUri = uri,
                        StatusCode = (int)response.StatusCode,
                    };
            }

            return await CopyBodyAsync(response, uri, part, target, offset, total, stall, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<long> CopyBodyAsync(
        HttpResponseMessage response, Uri uri, string part, string target, long offset, long? total, CancellationTokenSource stall, CancellationToken cancellationToken)
    {
        var done = offset;
        var progress = new DownloadProgress(Path.GetFileName(target), offset, total, _logger, DownloadProgress.StderrIsTerminal);
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            var file = new FileStream(part, offset == 0 ? FileMode.Create : FileMode.Append, FileAccess.Write, FileShare.None, CopyBufferSize, useAsync: true);
            await using (file.ConfigureAwait(false))
            {
                try
                {
                    var body = await response.Content.ReadAsStreamAsync(stall.Token).ConfigureAwait(false);
                    await using (body.ConfigureAwait(false))
                    {
                        while (true)
                        {
                            stall.CancelAfter(_stallTimeout);
                            var read = await body.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
                            if (read == 0)
                            {
                                break;
                            }

                            await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                            done += read;
                            progress.Report(done);
                        }
                    }
                }
                catch (HttpIOException ex) when (ex.HttpRequestError == HttpRequestError.ResponseEnded && total is { } expected)
                {
                    // The connection closed before the announced length: keep the part so the next attempt resumes.
                    throw new ModelSizeMismatchException(
                        $"Download of {uri} ended early: {done} of {expected} bytes received. The partial file is kept and the next attempt resumes it.", ex)
                    {
                        RequestUri = uri,
                        ExpectedBytes = expected,
                        ActualBytes = done,
                    };
                }
                catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new ModelDownloadException(
                        $"Download of {uri} stalled: nothing received for {_stallTimeout.TotalSeconds:0} s after {done} bytes. The partial file is kept and the next attempt resumes it.", ex)
                    {
                        RequestUri = uri,
                    };
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException && ex is not ModelDownloadException)
                {
                    throw new ModelDownloadException(
                        $"Download of {uri} failed after {done} bytes: {ex.Message}. The partial file is kept and the next attempt resumes it.", ex)
                    {
                        RequestUri = uri,
                    };
                }

                await file.FlushAsync(cancellationToken).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            progress.Finish(done);
        }

        if (total is { } announced && announced != done)
        {
            // The body ended cleanly but the size is wrong: the bytes cannot be trusted, so none are kept.
            File.Delete(part);
            throw new ModelSizeMismatchException($"Download of {uri} has the wrong size: {done} bytes received, the server announced {announced}.")
            {
                RequestUri = uri,
                ExpectedBytes = announced,
                ActualBytes = done,
            };
        }

        File.Move(part, target, overwrite: true);
        return done;
    }

    private static string DefaultCacheDirectory()
    {
        var cacheHome = FirstNonEmpty(Environment.GetEnvironmentVariable("XDG_CACHE_HOME"))
            ?? Path.Join(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Join(cacheHome, "tokenflow", "models");
    }

    private static string? FirstNonEmpty(params ReadOnlySpan<string?> values)
    {
        foreach (var value in values)
        {
            if (!string.IsNullOrWhiteSpace(value))
            {
                return value;
            }
        }

        return null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Downloading model {Reference} from {Uri} to {Path}")]
    private static partial void LogDownloadStarting(ILogger logger, string reference, Uri uri, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Resuming download of {Uri} at byte {Offset}")]
    private static partial void LogResuming(ILogger logger, Uri uri, long offset);

    [LoggerMessage(Level = LogLevel.Information, Message = "Downloaded model {Reference}: {Megabytes:0.0} MB in {Seconds:0.0} s")]
    private static partial void LogDownloaded(ILogger logger, string reference, double megabytes, double seconds);
}
