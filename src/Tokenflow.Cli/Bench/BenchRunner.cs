using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Tokenflow.Cli.Bench;

/// <summary>
/// The load generator: <see cref="BenchSettings.Concurrency"/> workers, each sending one streamed chat request
/// after another over a shared <see cref="SocketsHttpHandler"/> (one connection per worker), timing the first
/// token and every gap between tokens as the bytes arrive. Kept off the measured path's way: the request body
/// is built once, responses are scanned as raw bytes in pooled buffers (<see cref="SseScanner"/>), and
/// latencies go to fixed histograms — per token it costs a scan of the line and an atomic increment.
/// </summary>
internal sealed class BenchRunner
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    private readonly BenchSettings _settings;
    private readonly byte[] _body;
    private readonly ConcurrentDictionary<string, int> _errors = new(StringComparer.Ordinal);
    private long _issued;
    private long _completed;
    private long _failed;
    private long _inFlight;
    private long _liveTokens;
    private long _tokens;

    public BenchRunner(BenchSettings settings)
    {
        _settings = settings;
        _body = BuildBody(settings);
    }

    public LatencyHistogram TimeToFirstToken { get; } = new();

    public LatencyHistogram InterToken { get; } = new();

    /// <summary>A snapshot for the progress line.</summary>
    public BenchProgress Progress(TimeSpan elapsed) => new(elapsed, Interlocked.Read(ref _completed), Interlocked.Read(ref _failed), Interlocked.Read(ref _inFlight), Interlocked.Read(ref _liveTokens));

    /// <summary>Runs the benchmark; <paramref name="cancellationToken"/> stops it early (the result covers what ran).</summary>
    public async Task<BenchResult> RunAsync(Action<BenchProgress>? onProgress, TimeSpan progressInterval, CancellationToken cancellationToken)
    {
        using var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = _settings.Concurrency,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            ConnectTimeout = TimeSpan.FromSeconds(15),
            AutomaticDecompression = DecompressionMethods.None,
            UseProxy = false,
            UseCookies = false,
            EnableMultipleHttp2Connections = true,
        };
        using var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        var auth = _settings.ApiKey is { Length: > 0 } key ? new AuthenticationHeaderValue("Bearer", key) : null;

        var start = Stopwatch.GetTimestamp();
        var deadline = _settings.Duration is { } duration ? start + (long)(duration.TotalSeconds * Stopwatch.Frequency) : long.MaxValue;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var workers = new Task[_settings.Concurrency];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = Task.Run(() => WorkerAsync(http, auth, deadline, stop.Token), CancellationToken.None);
        }

        var all = Task.WhenAll(workers);
        if (onProgress is not null)
        {
            using var timer = new PeriodicTimer(progressInterval);
            while (!all.IsCompleted && await Task.WhenAny(all, timer.WaitForNextTickAsync(CancellationToken.None).AsTask()) != all)
            {
                onProgress(Progress(Stopwatch.GetElapsedTime(start)));
            }
        }

        await all;
        var elapsed = Stopwatch.GetElapsedTime(start);
        onProgress?.Invoke(Progress(elapsed));
        return new BenchResult
        {
            Settings = _settings,
            Elapsed = elapsed,
            Completed = _completed,
            Failed = _failed,
            Tokens = _tokens,
            TimeToFirstToken = TimeToFirstToken,
            InterToken = InterToken,
            Errors = new SortedDictionary<string, int>(_errors, StringComparer.Ordinal),
            Stopped = cancellationToken.IsCancellationRequested,
        };
    }

    private static byte[] BuildBody(BenchSettings settings)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("model"u8, settings.Model);
            w.WriteStartArray("messages"u8);
            w.WriteStartObject();
            w.WriteString("role"u8, "user"u8);
            w.WriteString("content"u8, settings.Prompt);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteBoolean("stream"u8, true);
            w.WriteStartObject("stream_options"u8);
            w.WriteBoolean("include_usage"u8, true);
            w.WriteEndObject();
            w.WriteNumber("max_tokens"u8, settings.MaxTokens);
            foreach (var (name, value) in settings.Extra ?? [])
            {
                w.WritePropertyName(name);
                if (value is null)
                {
                    w.WriteNullValue();
                }
                else
                {
                    value.WriteTo(w);
                }
            }

            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private async Task WorkerAsync(HttpClient http, AuthenticationHeaderValue? auth, long deadline, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        using var scanner = new SseScanner();
        try
        {
            while (!cancellationToken.IsCancellationRequested && Stopwatch.GetTimestamp() < deadline)
            {
                if (_settings.Requests is { } limit && Interlocked.Increment(ref _issued) > limit)
                {
                    return;
                }

                await RunRequestAsync(http, auth, buffer, scanner, cancellationToken);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task RunRequestAsync(HttpClient http, AuthenticationHeaderValue? auth, byte[] buffer, SseScanner scanner, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _inFlight);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_settings.RequestTimeout);
        var start = Stopwatch.GetTimestamp();
        long last = 0;
        var tokenEvents = 0;
        var usageTokens = -1;
        var done = false;
        string? error = null;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, _settings.Endpoint)
            {
                Content = new ByteArrayContent(_body) { Headers = { ContentType = Json } },
            };
            request.Headers.Authorization = auth;
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                error = $"http_{(int)response.StatusCode}";
                return;
            }

            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
            scanner.Reset();
            while (!done)
            {
                var read = await body.ReadAsync(buffer, timeout.Token);
                if (read == 0)
                {
                    break;
                }

                var now = Stopwatch.GetTimestamp();
                var scan = scanner.Scan(buffer.AsSpan(0, read));
                if (scan.TokenEvents > 0)
                {
                    // Tokens that arrived in one read share its timestamp: the first measures the gap, the rest are 0.
                    if (tokenEvents == 0)
                    {
                        TimeToFirstToken.RecordTicks(now - start);
                        InterToken.RecordTicks(0, scan.TokenEvents - 1);
                    }
                    else
                    {
                        InterToken.RecordTicks(now - last);
                        InterToken.RecordTicks(0, scan.TokenEvents - 1);
                    }

                    last = now;
                    tokenEvents += scan.TokenEvents;
                    Interlocked.Add(ref _liveTokens, scan.TokenEvents);
                }

                usageTokens = scan.UsageTokens >= 0 ? scan.UsageTokens : usageTokens;
                if (scan.Error)
                {
                    error = "stream_error";
                    return;
                }

                done = scan.Done;
            }

            if (!done)
            {
                error = "incomplete_stream";
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            error = "stopped";
        }
        catch (OperationCanceledException)
        {
            error = "timeout";
        }
        catch (HttpRequestException ex)
        {
            error = ex.HttpRequestError == HttpRequestError.Unknown ? "http_request_error" : $"http_{ex.HttpRequestError}";
        }
        catch (IOException)
        {
            error = "connection_lost";
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
            if (error is null)
            {
                Interlocked.Increment(ref _completed);
                Interlocked.Add(ref _tokens, usageTokens >= 0 ? usageTokens : tokenEvents);
            }
            else if (error != "stopped")
            {
                Interlocked.Increment(ref _failed);
                _errors.AddOrUpdate(error, 1, static (_, n) => n + 1);
            }
        }
    }
}

/// <summary>Counters at one moment of a run.</summary>
internal readonly record struct BenchProgress(TimeSpan Elapsed, long Completed, long Failed, long InFlight, long Tokens);
