using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Xml.Linq;
using Tokenflow.Core.Durable;
using Tokenflow.Core.Generation;
using Tokenflow.Core.Streams;
using Tokenflow.LlamaCpp;
using Tokenflow.Redis;
using Tokenflow.Server.Mcp;
using Tokenflow.Server.Operations;
using Tokenflow.Upstreams;

namespace Tokenflow.Server.Hosting;

/// <summary>
/// Every configuration setting the server reads, listed from the options classes themselves — their
/// properties, their defaults and their XML documentation — so <c>tokenflow serve --help</c> cannot drift
/// from what is bound. A setting is given as <c>--Section:Key value</c>, the environment variable
/// <c>Section__Key</c>, or in <c>appsettings.json</c>.
/// </summary>
public static class ServerSettings
{
    /// <summary>One setting: its configuration key (<c>&lt;name&gt;</c> and <c>&lt;i&gt;</c> stand for a name and a list index), its type, default and description.</summary>
    public sealed record Setting(string Key, string Type, string? Default, string Description);

    /// <summary>The options classes the server binds, by configuration section.</summary>
    public static IReadOnlyList<(string Section, Type Options)> Sections { get; } =
    [
        (TokenflowOptions.Section, typeof(TokenflowOptions)),
        (TokenflowCoreServiceCollectionExtensions.StreamsSection, typeof(StreamStoreOptions)),
        (RedisStreamStoreOptions.Section, typeof(RedisStreamStoreOptions)),
        (UpstreamsOptions.Section, typeof(UpstreamsOptions)),
        (LlamaCppOptions.SectionName, typeof(LlamaCppOptions)),
        (ModelDownloadOptions.SectionName, typeof(ModelDownloadOptions)),
        (TokenflowMcpOptions.Section, typeof(TokenflowMcpOptions)),
        (DurableStreamOptions.Section, typeof(DurableStreamOptions)),
        (TelemetryOptions.Section, typeof(TelemetryOptions)),
        (RateLimitOptions.Section, typeof(RateLimitOptions)),
    ];

    /// <summary>Every setting, in section order.</summary>
    public static IReadOnlyList<Setting> List()
    {
        var docs = new Dictionary<Assembly, Dictionary<string, string>>();
        var settings = new List<Setting>
        {
            new($"{TokenflowOptions.Section}:Model", "string", null, "A GGUF file, or hf:<repo>/<file>.gguf, served besides the built-in models (also --model)."),
            new($"{TokenflowOptions.Section}:EmbeddedModel", "true|false", "true", $"false: do not load the embedded model {ModelRegistration.EmbeddedModelId} (only sim, upstreams and --model)."),
        };
        foreach (var (section, type) in Sections)
        {
            Add(settings, docs, section, type, Activator.CreateInstance(type), depth: 0);
        }

        return settings;
    }

    /// <summary>Writes the settings as a help section: key, type and default on one line, the description below.</summary>
    public static void Write(TextWriter output)
    {
        output.WriteLine("Settings (--Section:Key value, environment Section__Key, or appsettings.json):");
        foreach (var setting in List())
        {
            var line = new StringBuilder("  --").Append(setting.Key).Append(" <").Append(setting.Type).Append('>');
            if (setting.Default is { Length: > 0 } value)
            {
                line.Append("  [default: ").Append(value).Append(']');
            }

            output.WriteLine(line.ToString());
            if (setting.Description.Length > 0)
            {
                foreach (var wrapped in Wrap(setting.Description, 96))
                {
                    output.Write("      ");
                    output.WriteLine(wrapped);
                }
            }
        }
    }

    private static void Add(List<Setting> settings, Dictionary<Assembly, Dictionary<string, string>> docs, string prefix, Type type, object? instance, int depth)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.SetMethod is not { IsPublic: true } || property.GetIndexParameters().Length > 0)
            {
                continue;
            }

            var key = $"{prefix}:{property.Name}";
            var description = Summary(docs, property);
            var propertyType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            var value = instance is null ? null : property.GetValue(instance);
            if (DictionaryValueType(propertyType) is { } valueType)
            {
                if (IsScalar(valueType))
                {
                    settings.Add(new Setting($"{key}:<name>", TypeName(valueType), null, description));
                }
                else if (depth < 2)
                {
                    settings.Add(new Setting($"{key}:<name>", "section", null, description));
                    Add(settings, docs, $"{key}:<name>", valueType, Activator.CreateInstance(valueType), depth + 1);
                }
            }
            else if (ElementType(propertyType) is { } elementType)
            {
                settings.Add(new Setting($"{key}:<i>", TypeName(elementType), null, description));
            }
            else if (IsScalar(propertyType))
            {
                settings.Add(new Setting(key, TypeName(propertyType), Format(value), description));
            }
            else if (depth < 2)
            {
                Add(settings, docs, key, propertyType, value, depth + 1);
            }
        }
    }

    private static bool IsScalar(Type type)
        => type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan) || type == typeof(Uri);

    private static Type? DictionaryValueType(Type type)
        => type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>) && type.GetGenericArguments()[0] == typeof(string) ? type.GetGenericArguments()[1] : null;

    private static Type? ElementType(Type type)
    {
        if (type.IsArray)
        {
            return type.GetElementType();
        }

        return type.IsGenericType && type != typeof(string) && typeof(IEnumerable).IsAssignableFrom(type) ? type.GetGenericArguments()[0] : null;
    }

    private static string TypeName(Type type) => type switch
    {
        _ when type == typeof(TimeSpan) => "d.hh:mm:ss",
        _ when type == typeof(bool) => "true|false",
        _ when type.IsEnum => string.Join('|', Enum.GetNames(type)),
        _ when type == typeof(int) || type == typeof(long) => "integer",
        _ when type == typeof(float) || type == typeof(double) => "number",
        _ => "string",
    };

    private static string? Format(object? value) => value switch
    {
        null => null,
        string text => text,
        TimeSpan span => span.ToString("c", CultureInfo.InvariantCulture),
        bool flag => flag ? "true" : "false",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };

    /// <summary>The property's <c>&lt;summary&gt;</c> from the XML documentation beside its assembly, as plain text; empty when there is none.</summary>
    private static string Summary(Dictionary<Assembly, Dictionary<string, string>> docs, PropertyInfo property)
    {
        var assembly = property.DeclaringType!.Assembly;
        if (!docs.TryGetValue(assembly, out var members))
        {
            docs[assembly] = members = Load(assembly);
        }

        return members.TryGetValue($"P:{property.DeclaringType.FullName}.{property.Name}", out var summary) ? summary : string.Empty;
    }

    private static Dictionary<string, string> Load(Assembly assembly)
    {
        var members = new Dictionary<string, string>(StringComparer.Ordinal);
        var path = string.IsNullOrEmpty(assembly.Location) ? null : Path.ChangeExtension(assembly.Location, ".xml");
        if (path is null || !File.Exists(path))
        {
            return members;
        }

        foreach (var member in XDocument.Load(path).Descendants("member"))
        {
            if (member.Attribute("name")?.Value is { } name && member.Element("summary") is { } summary)
            {
                members[name] = PlainText(summary);
            }
        }

        return members;
    }

    /// <summary>Text of a documentation element: <c>&lt;see cref&gt;</c> becomes the member's short name, whitespace collapses.</summary>
    private static string PlainText(XElement element)
    {
        var text = new StringBuilder();
        foreach (var node in element.DescendantNodes())
        {
            if (node is XText piece)
            {
                text.Append(piece.Value);
            }
            else if (node is XElement { Name.LocalName: "see" or "seealso" or "paramref" or "typeparamref" } reference && !reference.Nodes().Any())
            {
                text.Append(ShortName(reference.Attribute("cref")?.Value ?? reference.Attribute("name")?.Value ?? reference.Attribute("langword")?.Value ?? string.Empty));
            }
        }

        return string.Join(' ', text.ToString().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary><c>T:A.B.Type</c> → <c>Type</c>; <c>F:A.B.Type.Member</c> → <c>Type.Member</c>.</summary>
    private static string ShortName(string cref)
    {
        var kind = cref.Length > 2 && cref[1] == ':' ? cref[0] : 'T';
        var name = cref.Length > 2 && cref[1] == ':' ? cref[2..] : cref;
        if (name.IndexOf('(') is >= 0 and var paren)
        {
            name = name[..paren];
        }

        var parts = name.Split('.');
        return kind == 'T' || parts.Length < 2 ? parts[^1] : $"{parts[^2]}.{parts[^1]}";
    }

    private static IEnumerable<string> Wrap(string text, int width)
    {
        var line = new StringBuilder();
        foreach (var word in text.Split(' '))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                yield return line.ToString();
                line.Clear();
            }

            if (line.Length > 0)
            {
                line.Append(' ');
            }

            line.Append(word);
        }

        if (line.Length > 0)
        {
            yield return line.ToString();
        }
    }
}
