namespace Tokenflow.LlamaCpp.Tests.Download;

public sealed class ModelDownloaderTests : IDisposable
{
    private const string Repository = "tokenflow/test-GGUF";
    private const string File = "sub dir/model-Q8_0.gguf";
    private static readonly ModelReference Reference = ModelReference.Parse($"hf:{Repository}/{File}");

    private readonly string _cache = Directory.CreateTempSubdirectory("tokenflow-download-").FullName;
    private readonly byte[] _content = RandomBytes(3 * 1024 * 1024 + 17);

    public void Dispose() => Directory.Delete(_cache, recursive: true);

    [Fact]
    public async Task Fresh_download_produces_identical_bytes_in_the_cache()
    {
        await using var server = await ModelFileServer.StartAsync(Repository, File, _content);
        var downloader = CreateDownloader(server);

        var path = await downloader.DownloadAsync(Reference);

        Assert.Equal(Path.Join(_cache, "tokenflow", "test-GGUF", "sub dir", "model-Q8_0.gguf"), path);
        Assert.Equal(_content, await System.IO.File.ReadAllBytesAsync(path));
        Assert.False(System.IO.File.Exists(path + ".part"));
        var request = Assert.Single(server.Requests);
        Assert.Null(request.Range);
        Assert.Equal(200, request.Status);
    }

    [Fact]
    public async Task Partial_download_is_resumed_with_a_range_request_for_the_rest_only()
    {
        await using var server = await ModelFileServer.StartAsync(Repository, File, _content);
        var downloader = CreateDownloader(server);
        var target = downloader.GetCachePath(Reference);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        const int already = 1_000_000;
        await System.IO.File.WriteAllBytesAsync(target + ".part", _content[..already]);

        var path = await downloader.DownloadAsync(Reference);

        Assert.Equal(_content, await System.IO.File.ReadAllBytesAsync(path));
        var request = Assert.Single(server.Requests);
        Assert.Equal($"bytes={already}-", request.Range);
        Assert.Equal(206, request.Status);
        Assert.Equal(_content.Length - already, request.BytesSent);
    }

    [Fact]
    public async Task Server_that_ignores_range_sends_the_whole_file_and_the_part_is_replaced()
    {
        await using var server = await ModelFileServer.StartAsync(Repository, File, _content, ServerMode.IgnoreRange);
        var downloader = CreateDownloader(server);
        var target = downloader.GetCachePath(Reference);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        await System.IO.File.WriteAllBytesAsync(target + ".part", RandomBytes(500_000));

        var path = await downloader.DownloadAsync(Reference);

        Assert.Equal(_content, await System.IO.File.ReadAllBytesAsync(path));
        var request = Assert.Single(server.Requests);
        Assert.NotNull(request.Range);
        Assert.Equal(200, request.Status);
    }

    [Fact]
    public async Task Short_body_is_a_size_mismatch_and_leaves_no_cached_file()
    {
        await using var server = await ModelFileServer.StartAsync(Repository, File, _content, ServerMode.ShortBody);
        var downloader = CreateDownloader(server);

        var error = await Assert.ThrowsAsync<ModelSizeMismatchException>(() => downloader.DownloadAsync(Reference));

        Assert.Equal(_content.Length, error.ExpectedBytes);
        Assert.True(error.ActualBytes < _content.Length);
        Assert.False(System.IO.File.Exists(downloader.GetCachePath(Reference)));
    }

    [Fact]
    public async Task Missing_file_gives_model_not_found()
    {
        await using var server = await ModelFileServer.StartAsync(Repository, "other.gguf", _content);
        var downloader = CreateDownloader(server);

        var error = await Assert.ThrowsAsync<ModelNotFoundException>(() => downloader.DownloadAsync(Reference));

        Assert.Equal(404, error.StatusCode);
        Assert.Contains("404", error.Message, StringComparison.Ordinal);
        Assert.False(System.IO.File.Exists(downloader.GetCachePath(Reference)));
    }

    [Fact]
    public async Task Second_call_is_served_from_the_cache_without_a_request()
    {
        await using var server = await ModelFileServer.StartAsync(Repository, File, _content);
        var downloader = CreateDownloader(server);
        var first = await downloader.DownloadAsync(Reference);
        Assert.Single(server.Requests);

        var second = await CreateDownloader(server).DownloadAsync(Reference);

        Assert.Equal(first, second);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task Token_is_sent_as_bearer_authorization()
    {
        await using var server = await ModelFileServer.StartAsync(Repository, File, _content);
        var downloader = CreateDownloader(server, token: "hf_secret");

        await downloader.DownloadAsync(Reference);

        Assert.Equal("Bearer hf_secret", Assert.Single(server.Requests).Authorization);
    }

    [Fact]
    public async Task Unreachable_server_is_a_download_error()
    {
        // A port that was just free: nothing listens there.
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var http = new HttpClient();
        var downloader = new ModelDownloader(http, new ModelDownloadOptions { Endpoint = $"http://127.0.0.1:{port}", CacheDirectory = _cache });

        var error = await Assert.ThrowsAsync<ModelDownloadException>(() => downloader.DownloadAsync(Reference));

        Assert.IsType<ModelDownloadException>(error);
        Assert.IsType<HttpRequestException>(error.InnerException);
    }

    [Fact]
    public void Download_address_follows_the_hub_layout()
    {
        using var http = new HttpClient();
        var downloader = new ModelDownloader(http, new ModelDownloadOptions { Endpoint = "https://hub.example/", CacheDirectory = _cache });

        var uri = downloader.GetDownloadUri(ModelReference.Parse("hf:bartowski/SmolLM2-135M-Instruct-GGUF/SmolLM2-135M-Instruct-Q8_0.gguf"));

        Assert.Equal("https://hub.example/bartowski/SmolLM2-135M-Instruct-GGUF/resolve/main/SmolLM2-135M-Instruct-Q8_0.gguf", uri.AbsoluteUri);
    }

    [Fact]
    public async Task Backend_downloads_an_hf_model_on_first_use_and_generates()
    {
        var model = Backend.SyntheticGguf.Write(Backend.SyntheticGguf.LetterA);
        try
        {
            await using var server = await ModelFileServer.StartAsync(Repository, File, await System.IO.File.ReadAllBytesAsync(model));
            using var backend = new LlamaCppBackend(Reference, new LlamaCppOptions { Threads = 1, MaxConcurrentSequences = 1, WarmupTokens = 0 }, downloader: CreateDownloader(server));
            Assert.Equal(0, backend.ContextLength);

            var result = await Backend.LlamaCppBackendTests.GenerateAsync(
                backend, new Core.Backends.BackendRequest { Model = "m", Prompt = "a", MaxTokens = 2, Temperature = 0 });

            Assert.Equal("aa", result.Text);
            Assert.Equal(Backend.SyntheticGguf.ContextLength, backend.ContextLength);
            Assert.Single(server.Requests);
        }
        finally
        {
            System.IO.File.Delete(model);
        }
    }

    [Fact]
    public void Endpoint_and_cache_default_to_HF_ENDPOINT_and_XDG_CACHE_HOME()
    {
        var saved = (Environment.GetEnvironmentVariable("HF_ENDPOINT"), Environment.GetEnvironmentVariable("XDG_CACHE_HOME"));
        try
        {
            Environment.SetEnvironmentVariable("HF_ENDPOINT", "http://mirror.example:8080/hf");
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", _cache);
            using var http = new HttpClient();

            var fromEnvironment = new ModelDownloader(http, new ModelDownloadOptions());
            var fromOptions = new ModelDownloader(http, new ModelDownloadOptions { Endpoint = "https://hub.example" });

            Assert.Equal("http://mirror.example:8080/hf/tokenflow/test-GGUF/resolve/main/sub%20dir/model-Q8_0.gguf", fromEnvironment.GetDownloadUri(Reference).AbsoluteUri);
            Assert.Equal(Path.Join(_cache, "tokenflow", "models"), fromEnvironment.CacheDirectory);
            Assert.StartsWith("https://hub.example/", fromOptions.GetDownloadUri(Reference).AbsoluteUri, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable("HF_ENDPOINT", saved.Item1);
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", saved.Item2);
        }
    }

    private ModelDownloader CreateDownloader(ModelFileServer server, string? token = null)
        => new(new HttpClient(), new ModelDownloadOptions { Endpoint = server.Endpoint.ToString(), CacheDirectory = _cache, Token = token });

    private static byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        return bytes;
    }
}
