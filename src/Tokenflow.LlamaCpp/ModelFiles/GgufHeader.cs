using System.Text;

namespace Tokenflow.LlamaCpp.ModelFiles;

/// <summary>
/// The few GGUF metadata values Tokenflow needs before (or without) loading a model: its architecture,
/// trained context length and whether it carries a chat template. Read straight from the file header,
/// without llama.cpp, so a catalog can report a context length and a bad file fails with a clear message.
/// </summary>
internal sealed record GgufHeader(string? Architecture, int ContextLength, bool HasChatTemplate)
{
    private const uint Magic = 0x46554747; // "GGUF" little-endian

    /// <summary>Reads the header of <paramref name="path"/>; throws <see cref="InvalidDataException"/> for a file that is not GGUF.</summary>
    public static GgufHeader Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        using var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        try
        {
            if (stream.Length < 24 || reader.ReadUInt32() != Magic)
            {
                throw new InvalidDataException($"'{path}' is not a GGUF model file (no GGUF magic number).");
            }

            var version = reader.ReadUInt32();
            if (version is < 2 or > 3)
            {
                throw new InvalidDataException($"'{path}' is GGUF version {version}; versions 2 and 3 are supported.");
            }

            _ = reader.ReadUInt64(); // tensor count
            var kvCount = reader.ReadUInt64();
            string? architecture = null;
            var hasTemplate = false;
            var contextLengths = new Dictionary<string, long>(StringComparer.Ordinal);
            for (ulong i = 0; i < kvCount; i++)
            {
                var key = ReadString(reader);
                var type = (ValueType)reader.ReadUInt32();
                if (key == "general.architecture" && type == ValueType.String)
                {
                    architecture = ReadString(reader);
                }
                else if (key == "tokenizer.chat_template" && type == ValueType.String)
                {
                    hasTemplate = ReadString(reader).Length > 0;
                }
                else if (key.EndsWith(".context_length", StringComparison.Ordinal) && TryReadInteger(reader, type, out var value))
                {
                    contextLengths[key] = value;
                }
                else
                {
                    Skip(reader, type);
                }
            }

            var context = architecture is not null && contextLengths.TryGetValue(architecture + ".context_length", out var n)
                ? (int)Math.Clamp(n, 0, int.MaxValue)
                : 0;
            return new GgufHeader(architecture, context, hasTemplate);
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidDataException($"'{path}' is a truncated GGUF file: its metadata ends early.", ex);
        }
    }

    private static string ReadString(BinaryReader reader)
    {
        var length = reader.ReadUInt64();
        if (length > int.MaxValue)
        {
            throw new InvalidDataException("A GGUF string is implausibly long.");
        }

        return Encoding.UTF8.GetString(reader.ReadBytes((int)length));
    }

    private static bool TryReadInteger(BinaryReader reader, ValueType type, out long value)
    {
        switch (type)
        {
            case ValueType.UInt32: value = reader.ReadUInt32(); return true;
            case ValueType.Int32: value = reader.ReadInt32(); return true;
            case ValueType.UInt64: value = (long)Math.Min(reader.ReadUInt64(), long.MaxValue); return true;
            case ValueType.Int64: value = reader.ReadInt64(); return true;
            default: value = 0; Skip(reader, type); return false;
        }
    }

    private static void Skip(BinaryReader reader, ValueType type)
    {
        switch (type)
        {
            case ValueType.String:
                SkipBytes(reader, reader.ReadUInt64());
                break;
            case ValueType.Array:
                var elementType = (ValueType)reader.ReadUInt32();
                var count = reader.ReadUInt64();
                if (elementType is ValueType.String or ValueType.Array)
                {
                    for (ulong i = 0; i < count; i++)
                    {
                        Skip(reader, elementType);
                    }
                }
                else
                {
                    SkipBytes(reader, checked(count * ScalarSize(elementType)));
                }

                break;
            default:
                SkipBytes(reader, ScalarSize(type));
                break;
        }
    }

    private static ulong ScalarSize(ValueType type) => type switch
    {
        ValueType.UInt8 or ValueType.Int8 or ValueType.Bool => 1,
        ValueType.UInt16 or ValueType.Int16 => 2,
        ValueType.UInt32 or ValueType.Int32 or ValueType.Float32 => 4,
        ValueType.UInt64 or ValueType.Int64 or ValueType.Float64 => 8,
        _ => throw new InvalidDataException($"Unknown GGUF value type {(uint)type}."),
    };

    private static void SkipBytes(BinaryReader reader, ulong count)
    {
        var stream = reader.BaseStream;
        if (count > (ulong)(stream.Length - stream.Position))
        {
            throw new EndOfStreamException();
        }

        stream.Seek((long)count, SeekOrigin.Current);
    }

    private enum ValueType : uint
    {
        UInt8 = 0,
        Int8 = 1,
        UInt16 = 2,
        Int16 = 3,
        UInt32 = 4,
        Int32 = 5,
        Float32 = 6,
        Bool = 7,
        String = 8,
        Array = 9,
        UInt64 = 10,
        Int64 = 11,
        Float64 = 12,
    }
}
