namespace Tokenflow.Core.Json;

/// <summary>One step of a <see cref="JsonPath"/>: an object member by name, or an array element by index.</summary>
/// <param name="Name">The member name; null for an array element.</param>
/// <param name="Index">The element index; -1 for a member.</param>
public readonly record struct JsonPathSegment(string? Name, int Index)
{
    /// <summary>An object member.</summary>
    public static JsonPathSegment Member(string name) => new(name, -1);

    /// <summary>An array element.</summary>
    public static JsonPathSegment Element(int index) => new(null, index);
}
