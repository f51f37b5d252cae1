using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Cli;

/// <summary>
/// The <c>vdpa</c> tool: iproute2 7.1's vdpa re-implemented over <see cref="INetlinkTransport"/>, printing the same
/// bytes to stdout and stderr and returning the same exit codes. By default it talks to vdpad over its Unix
/// socket ($UVDPA_SOCKET, else /run/uvdpa/vdpad.sock); <c>--kernel</c> (our extension) talks to the running
/// kernel's vdpa family instead.
/// </summary>
public static class CliApp
{
    /// <summary>Our version, printed by -V in iproute2's shape ("vdpa utility, iproute2-7.1.0" there).</summary>
    public const string Version = "uvdpa-0.1.0";

    /// <summary>argv[0] as getopt prints it.</summary>
    private const string ProgramName = "vdpa";

    private static readonly LongOption[] LongOptions =
    [
        new("Version", 'V'),
        new("json", 'j'),
        new("pretty", 'p'),
        new("help", 'h'),
        new("kernel", 'K'), // extension: AF_NETLINK to the running kernel instead of vdpad
    ];

    /// <summary>
    /// Runs one command line. <paramref name="transport"/> replaces the connection the tool would open (tests; it is
    /// not disposed); <paramref name="clock"/> replaces time(NULL) for sequence numbers. Returns the exit code.
    /// </summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, INetlinkTransport? transport = null, Func<uint>? clock = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);

        bool json = false, pretty = false, kernel = false;
        var getopt = new Getopt(args, "Vjpsh", LongOptions, ProgramName, stderr);
        int opt;
        while ((opt = getopt.Next()) >= 0)
        {
            switch (opt)
            {
                case 'V':
                    stdout.Write($"vdpa utility, {Version}\n");
                    return 0;
                case 'j':
                    json = true;
                    break;
                case 'p':
                    pretty = true;
                    break;
                case 'h':
                    stderr.Write(HelpText.Main);
                    return 0;
                case 'K':
                    kernel = true;
                    break;
                default:
                    stderr.Write("Unknown option.\n");
                    stderr.Write(HelpText.Main);
                    return 1;
            }
        }
        string[] argv = [.. getopt.Operands];
        clock ??= TimeNow;

        // vdpa_init: the family is resolved before the command line is looked at, so even "vdpa help" needs it.
        INetlinkTransport? owned = null;
        try
        {
            INetlinkTransport? t = transport;
            if (t is null)
            {
                try
                {
                    t = owned = kernel ? KernelNetlinkTransport.Open() : UnixSeqpacketTransport.Connect();
                }
                catch (NetlinkTransportException)
                {
                    t = null;
                }
            }
            GenlSocket? nlg = t is null ? null : GenlSocket.Open(t, VdpaFamily.Name, stderr, clock);
            if (nlg is null)
            {
                stderr.Write("Failed to connect to vdpa Netlink\n");
                return 1;
            }

            var printer = new Printer(stdout);
            printer.Start(json, pretty);
            // The uvdpa extension object shares the connection; it resolves its own family when used.
            var tool = new VdpaTool(nlg, printer, stderr) { ExtensionObject = new UvdpaTool(t!, clock, printer, stderr).TryRun };
            int err = tool.Run(argv);
            printer.Finish();
            return err != 0 ? 1 : 0;
        }
        finally
        {
            owned?.Dispose();
        }
    }

    private static uint TimeNow() => unchecked((uint)DateTimeOffset.UtcNow.ToUnixTimeSeconds());
}
