namespace Tokenflow.LlamaCpp;

/// <summary>
/// Where a GGUF model comes from: a local file path, or a file of a Hugging Face repository written
/// <c>hf:&lt;owner&gt;/&lt;repo&gt;/&lt;file&gt;.gguf</c> (repository = the first two path segments, file = the rest),
/// downloaded into the cache by <see cref="ModelDownloader"/> on first use.
/// </summary>
public sealed class ModelReference
{
    /// <summary>The prefix of Hugging Face references.</summary>
    public const string HuggingFacePrefix = "hf:";

    private ModelReference(string value, string? localPath, string? repository, string? file)
    {
        Value = value;
        LocalPath = localPath;
        Repository = repository;
        File = file;
    }

    /// <summary>The reference as written.</summary>
    public string Value { get; }

    /// <summary>True for an <c>hf:</c> reference.</summary>
    public bool IsHuggingFace => Repository is not null;

    /// <summary>The absolute path of a local reference; null for <c>hf:</c> references.</summary>
    public string? LocalPath { get; }

    /// <summary>The Hugging Face repository (<c>owner/name</c>) of an <c>hf:</c> reference.</summary>
    public string? Repository { get; }

    /// <summary>The file's path inside the repository of an <c>hf:</c> reference.</summary>
    public string? File { get; }

    /// <summary>
    /// Parses a path or an <c>hf:</c> reference. Does not touch the file system or network; a malformed
    /// <c>hf:</c> reference throws <see cref="FormatException"/>.
    /// </summary>
    public static ModelReference Parse(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        if (!value.StartsWith(HuggingFacePrefix, StringComparison.OrdinalIgnoreCase))
        {
            var path = value;
            if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal))
            {
                path = Path.Join(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path[1..]);
            }

            return new ModelReference(value, Path.GetFullPath(path), null, null);
        }

        var segments = value[HuggingFacePrefix.Length..].Split('/');
        if (segments.Length < 3 || segments.Any(s => s.Length == 0 || s is "." or ".." || s.Contains('\\', StringComparison.Ordinal)))
        {
            throw new FormatException($"'{value}' is not a valid model reference: expected hf:<owner>/<repo>/<file>.gguf.");
        }

        var file = string.Join('/', segments[2..]);
        if (!file.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException($"'{value}' does not name a .gguf file: expected hf:<owner>/<repo>/<file>.gguf.");
        }

        return new ModelReference(value, null, segments[0] + "/" + segments[1], file);
    }

    /// <summary>
    /// The local path of the model file: a local reference's path (which must exist, else
    /// <see cref="FileNotFoundException"/>), or for an <c>hf:</c> reference the cached file, downloaded
    /// first if needed through <paramref name="downloader"/>.
    /// </summary>
    public async Task<string> ResolveAsync(ModelDownloader downloader, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(downloader);
        if (!IsHuggingFace)
        {
            ThrowIfLocalFileMissing();
            return LocalPath!;
        }

        return await downloader.DownloadAsync(this, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Throws <see cref="FileNotFoundException"/> when this is a local reference whose file does not exist.</summary>
    public void ThrowIfLocalFileMissing()
    {
        if (LocalPath is { } path && !System.IO.File.Exists(path))
        {
            throw new FileNotFoundException(
                $"Model file missing: '{path}' does not exist. Pass the path of a .gguf file, or hf:<owner>/<repo>/<file>.gguf to download one.",
                path);
        }
    }

    /// <inheritdoc />
    public override string ToString() => Value;
}
