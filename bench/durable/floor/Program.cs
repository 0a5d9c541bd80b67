// Kestrel doing the least a durable append can: read the request body, answer 204 with an offset header.
// What this reaches under bench.mjs is the ceiling for any server built on Kestrel on the same machine.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();
app.Map("/v1/durable/{**path}", async (HttpContext context) =>
{
    if (HttpMethods.IsPost(context.Request.Method))
    {
        var reader = context.Request.BodyReader;
        var read = await reader.ReadAsync(context.RequestAborted);
        while (!read.IsCompleted)
        {
            reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
            read = await reader.ReadAsync(context.RequestAborted);
        }

        reader.AdvanceTo(read.Buffer.End);
        context.Response.Headers["Stream-Next-Offset"] = "0000000000000000_0000000000000001";
    }

    context.Response.StatusCode = HttpMethods.IsPut(context.Request.Method) ? StatusCodes.Status201Created : StatusCodes.Status204NoContent;
});
app.Run();
