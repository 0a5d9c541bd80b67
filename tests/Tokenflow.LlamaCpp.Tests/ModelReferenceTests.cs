namespace Tokenflow.LlamaCpp.Tests;

public sealed class ModelReferenceTests
{
    [Fact]
    public void Hf_reference_splits_into_repository_and_file()
    {
        var reference = ModelReference.Parse("hf:bartowski/SmolLM2-135M-Instruct-GGUF/sub/SmolLM2-135M-Instruct-Q8_0.gguf");

        Assert.True(reference.IsHuggingFace);
        Assert.Equal("bartowski/SmolLM2-135M-Instruct-GGUF", reference.Repository);
        Assert.Equal("sub/SmolLM2-135M-Instruct-Q8_0.gguf", reference.File);
        Assert.Null(reference.LocalPath);
    }

    [Theory]
    [InlineData("hf:owner/model.gguf")]
    [InlineData("hf:owner/repo/")]
    [InlineData("hf:owner//file.gguf")]
    [InlineData("hf:owner/repo/../escape.gguf")]
    [InlineData("hf:owner/repo/weights.bin")]
    public void Malformed_hf_reference_is_rejected(string value)
        => Assert.Throws<FormatException>(() => ModelReference.Parse(value));

    [Fact]
    public async Task Missing_local_file_fails_clearly()
    {
        var path = Path.Join(Path.GetTempPath(), "tokenflow-no-such-model.gguf");
        var reference = ModelReference.Parse(path);
        using var http = new HttpClient();

        var error = await Assert.ThrowsAsync<FileNotFoundException>(() => reference.ResolveAsync(new ModelDownloader(http, new ModelDownloadOptions())));

        Assert.Equal(path, reference.LocalPath);
        Assert.Contains("Model file missing", error.Message, StringComparison.Ordinal);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Existing_local_file_resolves_to_its_full_path()
    {
        var path = Path.GetTempFileName();
        try
        {
            using var http = new HttpClient();
            Assert.Equal(path, await ModelReference.Parse(path).ResolveAsync(new ModelDownloader(http, new ModelDownloadOptions())));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
