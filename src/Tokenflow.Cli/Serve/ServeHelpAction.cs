using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using Tokenflow.Server.Hosting;

namespace Tokenflow.Cli.Serve;

/// <summary>The help action: the usual help, and for <c>serve</c> every server setting after it (<see cref="ServerSettings"/>).</summary>
internal sealed class ServeHelpAction(HelpAction help) : SynchronousCommandLineAction
{
    /// <summary>Puts this action on <paramref name="root"/>'s help option (which every subcommand shares).</summary>
    public static void Install(RootCommand root)
    {
        foreach (var option in root.Options)
        {
            if (option is HelpOption { Action: HelpAction help } helpOption)
            {
                helpOption.Action = new ServeHelpAction(help);
            }
        }
    }

    public override int Invoke(ParseResult parseResult)
    {
        var code = help.Invoke(parseResult);
        if (parseResult.CommandResult.Command.Name == "serve")
        {
            ServerSettings.Write(parseResult.InvocationConfiguration.Output);
        }

        return code;
    }
}
