using Tokenflow.Server.Hosting;

var app = TokenflowApp.Build(args);
await app.RunAsync();
