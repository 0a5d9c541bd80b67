namespace Tokenflow.Server.Operations;

/// <summary>Metrics and traces settings, bound from <c>Tokenflow:Telemetry</c>.</summary>
public sealed class TelemetryOptions
{
    /// <summary>The configuration section name.</summary>
    public const string Section = "Tokenflow:Telemetry";

    /// <summary>Serve the Prometheus scrape at <c>/metrics</c>. Default true.</summary>
    public bool Prometheus { get; set; } = true;

    /// <summary>
    /// Answer <c>/metrics</c> to clients that are not on loopback too (otherwise they get 404, so a server
    /// bound to every interface does not publish its metrics to the network). Default false.
    /// </summary>
    public bool PrometheusRemote { get; set; }

    /// <summary>
    /// An OTLP endpoint (<c>http://collector:4317</c> for gRPC, or an <c>http/protobuf</c> URL with
    /// <see cref="OtlpProtocol"/>) to export metrics and generation traces to. Default none.
    /// </summary>
    public Uri? OtlpEndpoint { get; set; }

    /// <summary>The OTLP protocol: <c>grpc</c> (default) or <c>http/protobuf</c>.</summary>
    public string OtlpProtocol { get; set; } = "grpc";
}
