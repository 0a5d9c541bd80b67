using Tokenflow.Cli;

return await TokenflowCli.RunAsync(args, CliConsole.ForProcess());
