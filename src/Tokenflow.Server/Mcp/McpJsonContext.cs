using System.Text.Json.Serialization;

namespace Tokenflow.Server.Mcp;

/// <summary>Source-generated serialization of the tools' structured results and the MCP records kept in the stream store.</summary>
[JsonSerializable(typeof(GenerateTool.Output), TypeInfoPropertyName = "GenerateOutput")]
[JsonSerializable(typeof(StartGenerationTool.Output), TypeInfoPropertyName = "StartGenerationOutput")]
[JsonSerializable(typeof(ReadStreamTool.Output), TypeInfoPropertyName = "ReadStreamOutput")]
[JsonSerializable(typeof(CancelStreamTool.Output), TypeInfoPropertyName = "CancelStreamOutput")]
[JsonSerializable(typeof(McpEventStreamStore.LogMetadata), TypeInfoPropertyName = "LogMetadata")]
internal sealed partial class McpJsonContext : JsonSerializerContext;
