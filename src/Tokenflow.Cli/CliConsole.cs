namespace Tokenflow.Cli;

/// <summary>
/// The terminal a command talks to: its writers and reader, whether they are terminals, and Ctrl-C. Commands
/// subscribe to Ctrl-C only while they have something to stop (a stream, a benchmark); with no subscriber,
/// Ctrl-C ends the process as usual. Tests build one over string writers and raise <see cref="Interrupt"/> themselves.
/// </summary>
internal sealed class CliConsole
{
    private readonly Lock _gate = new();
    private readonly List<Action> _handlers = [];

    public CliConsole(TextWriter output, TextWriter error, TextReader input, bool isErrorTerminal = false)
    {
        Out = output;
        Error = error;
        In = input;
        IsErrorTerminal = isErrorTerminal;
    }

    public TextWriter Out { get; }

    public TextWriter Error { get; }

    public TextReader In { get; }

    /// <summary>True when stderr is a terminal: progress lines redraw in place.</summary>
    public bool IsErrorTerminal { get; }

    /// <summary>The process console; Ctrl-C is routed to <see cref="Interrupt"/>.</summary>
    public static CliConsole ForProcess()
    {
        var console = new CliConsole(Console.Out, Console.Error, Console.In, !Console.IsErrorRedirected);
        Console.CancelKeyPress += (_, e) => e.Cancel = console.Interrupt();
        return console;
    }

    /// <summary>Runs <paramref name="handler"/> on the next Ctrl-C, until the returned registration is disposed.</summary>
    public IDisposable OnInterrupt(Action handler)
    {
        lock (_gate)
        {
            _handlers.Add(handler);
        }

        return new Registration(this, handler);
    }

    /// <summary>Delivers Ctrl-C to the current subscribers (each once); false when there were none, so the process should end.</summary>
    public bool Interrupt()
    {
        Action[] handlers;
        lock (_gate)
        {
            handlers = [.. _handlers];
            _handlers.Clear();
        }

        foreach (var handler in handlers)
        {
            handler();
        }

        return handlers.Length > 0;
    }

    private sealed class Registration(CliConsole console, Action handler) : IDisposable
    {
        public void Dispose()
        {
            lock (console._gate)
            {
                console._handlers.Remove(handler);
            }
        }
    }
}
