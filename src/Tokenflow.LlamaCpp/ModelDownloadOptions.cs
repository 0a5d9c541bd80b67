namespace Tokenflow.LlamaCpp;

/// <summary>
/// Settings of <see cref="ModelDownloader"/>, bound from the configuration section <see cref="SectionName"/>.
/// Unset values fall back to the environment variables huggingface_hub uses.
/// </summary>
public sealed class ModelDownloadOptions
{
    /// <summary>The configuration section the options are bound from: <c>Tokenflow:ModelDownload</c>.</summary>
    public const string SectionName = "Tokenflow:ModelDownload";

    /// <summary>The default Hugging Face endpoint.</summary>
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>
    /// Base address files are downloaded from, as <c>{Endpoint}/{repo}/resolve/main/{file}</c>.
    /// Default: the <c>HF_ENDPOINT</c> environment variable, else <see cref="DefaultEndpoint"/>.
    /// </summary>
    public string? Endpoint { get; set; }

    /// <summary>
    /// Bearer token for gated or private repositories. Default: the <c>HF_TOKEN</c> environment variable;
    /// none when that is unset too.
    /// </summary>
    public string? Token { get; set; }

    /// <summary>
    /// Folder downloaded models are kept in, as <c>{CacheDirectory}/{owner}/{repo}/{file}</c>. Default:
    /// <c>$XDG_CACHE_HOME/tokenflow/models</c>, else <c>~/.cache/tokenflow/models</c>.
    /// </summary>
    public string? CacheDirectory { get; set; }

    /// <summary>
    /// How long the server may send nothing (before the response headers or between body bytes) before
    /// the download fails. Default 60 seconds.
    /// </summary>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromSeconds(60);
}
