namespace Tokenflow.LlamaCpp.Tests;

/// <summary>Finds the GGUF the backend tests run: the embedded model that ships with the server.</summary>
internal static class TestModel
{
    /// <summary>The shipped model, relative to the repository root.</summary>
    public const string ShippedPath = "src/Tokenflow.Server/model/tokenflow-tiny-v1.gguf";

    /// <summary>Set to a .gguf path to run the backend tests on another model (development only).</summary>
    public const string OverrideVariable = "TOKENFLOW_TEST_GGUF";

    /// <summary>The model's path; throws "model file missing" when it is not there, so the tests fail rather than skip.</summary>
    public static string RequirePath()
    {
        var path = Environment.GetEnvironmentVariable(OverrideVariable) is { Length: > 0 } overridden
            ? Path.GetFullPath(overridden)
            : Path.Join(RepositoryRoot(), ShippedPath);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Model file missing: the backend tests need the embedded GGUF at '{path}'.", path);
        }

        return path;
    }

    /// <summary>The repository root: the first folder above the test binaries with Tokenflow.slnx or .git.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Join(dir.FullName, "Tokenflow.slnx")) || Directory.Exists(Path.Join(dir.FullName, ".git")) || File.Exists(Path.Join(dir.FullName, ".git")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException($"No repository root (Tokenflow.slnx or .git) above '{AppContext.BaseDirectory}'.");
    }
}
