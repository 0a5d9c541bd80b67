using Tokenflow.Core;
using Tokenflow.LlamaCpp;

namespace Tokenflow.Server.Hosting;

/// <summary>
/// Registers the GGUF models this process serves: the embedded default model
/// (<c>tokenflow-tiny</c>, shipped beside the server), <c>--model PATH|hf:…</c> and any
/// <c>Tokenflow:Models:&lt;id&gt; = PATH|hf:…</c> entries. All run in-process on llama.cpp.
/// </summary>
internal static class ModelRegistration
{
    /// <summary>The id of the embedded default model.</summary>
    public const string EmbeddedModelId = "tokenflow-tiny";

    /// <summary>The embedded model's file, versioned; it lives in <c>model/</c> beside the server.</summary>
    public const string EmbeddedFileName = "tokenflow-tiny-v1.gguf";

    public static string EmbeddedModelPath => Path.Combine(AppContext.BaseDirectory, "model", EmbeddedFileName);

    /// <summary>Adds the models <paramref name="configuration"/> names (and the embedded one unless it is turned off).</summary>
    public static ITokenflowBuilder AddConfiguredModels(this ITokenflowBuilder builder, IConfiguration configuration)
    {
        // Tokenflow:EmbeddedModel=false skips loading it (tests that only need `sim` start faster).
        if (!string.Equals(configuration[$"{TokenflowOptions.Section}:EmbeddedModel"], "false", StringComparison.OrdinalIgnoreCase))
        {
            if (File.Exists(EmbeddedModelPath))
            {
                builder.AddLlamaCpp(EmbeddedModelId, EmbeddedModelPath);
            }
        }

        var model = configuration["model"] ?? configuration[$"{TokenflowOptions.Section}:Model"];
        if (!string.IsNullOrWhiteSpace(model))
        {
            builder.AddLlamaCpp(configuration[$"{TokenflowOptions.Section}:ModelId"] ?? IdFor(model), model);
        }

        foreach (var entry in configuration.GetSection($"{TokenflowOptions.Section}:Models").GetChildren())
        {
            if (!string.IsNullOrWhiteSpace(entry.Value))
            {
                builder.AddLlamaCpp(entry.Key, entry.Value);
            }
        }

        return builder;
    }

    /// <summary>A model id from a reference: the file name without <c>.gguf</c>.</summary>
    internal static string IdFor(string reference)
    {
        var name = reference.Replace('\\', '/');
        name = name[(name.LastIndexOf('/') + 1)..];
        return name.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) ? name[..^5] : name;
    }
}
