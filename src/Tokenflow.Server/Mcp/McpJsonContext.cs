using System.Text.Json.Serialization;

namespace Tokenflow.Server.Mcp;

/// <summary>Source-generated serialization of the tools' structured results.</summary>
[JsonSerializable(typeof(GenerateTool.Output), TypeInfoPropertyName = "GenerateOutput")]
[JsonSerializable(typeof(StartGenerationTool.Output), TypeInfoPropertyName = "StartGenerationOutput")]
[JsonSerializable(typeof(ReadStreamTool.Output), TypeInfoPropertyName = "ReadStreamOutput")]
[JsonSerializable(typeof(CancelStreamTool.Output), TypeInfoPropertyName = "CancelStreamOutput")]
internal sealed partial class McpJsonContext : JsonSerializerContext;
