using System.Text;

namespace Tokenflow.Cli.Tests;

/// <summary>Runs the <c>tokenflow</c> command line in-process with captured output.</summary>
internal sealed class CliRun
{
    private readonly StringWriter _out = new(new StringBuilder());
    private readonly StringWriter _error = new(new StringBuilder());

    public CliRun(string input = "")
    {
        Console = new CliConsole(TextWriter.Synchronized(_out), TextWriter.Synchronized(_error), new StringReader(input));
    }

    public CliConsole Console { get; }

    public string Out => _out.ToString();

    public string Error => _error.ToString();

    public Task<int> StartAsync(CancellationToken cancellationToken, params string[] args) => TokenflowCli.RunAsync(args, Console, cancellationToken);

    public static async Task<(int Code, CliRun Run)> RunAsync(params string[] args)
    {
        var run = new CliRun();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(45));
        var code = await run.StartAsync(timeout.Token, args);
        return (code, run);
    }
}
