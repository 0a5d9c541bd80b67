using Microsoft.Extensions.FileProviders;
using Microsoft.Net.Http.Headers;

namespace Tokenflow.Server.Hosting;

/// <summary>
/// The playground (DESIGN.md "Playground"): the single page at <c>GET /</c> and its script and style, embedded in
/// this assembly from <c>wwwroot/</c> so they are served the same way by <c>dotnet run</c>, <c>dotnet Tokenflow.Server.dll</c>
/// from any directory and the CLI's <c>tokenflow serve</c> (no content root or static web assets manifest needed).
/// The page is public — it holds no data — while every API call it makes goes through the usual authentication.
/// <c>Tokenflow:Playground</c> = <c>false</c> turns it off.
/// </summary>
internal static class PlaygroundExtensions
{
    // The page loads nothing from elsewhere and talks only to its own origin (fetch and the WebSocket door);
    // no framing, so another site cannot overlay it (clickjacking).
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    public static WebApplication UsePlayground(this WebApplication app)
    {
        if (!app.Configuration.GetValue($"{TokenflowOptions.Section}:Playground", true))
        {
            return app;
        }

        var files = new EmbeddedFileProvider(typeof(PlaygroundExtensions).Assembly, "Tokenflow.Server.wwwroot");
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            OnPrepareResponse = static context =>
            {
                var headers = context.Context.Response.Headers;
                // Revalidated on every load (the files change with the server; ETag/Last-Modified make it cheap).
                headers.CacheControl = "no-cache";
                headers.XContentTypeOptions = "nosniff";
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                headers[HeaderNames.XFrameOptions] = "DENY";
                headers["Referrer-Policy"] = "no-referrer";
            },
        });
        return app;
    }
}
