using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Daemon.Tests;

/// <summary>vdpad hosted in the test process on a temp socket; logs are captured for assertions and failure output.</summary>
internal sealed class TestDaemon : IAsyncDisposable
{
    /// <summary>Generous: a loaded CI machine must never turn into a flaky failure.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly IHost _host;
    private bool _stopped;

    private TestDaemon(IHost host, DaemonOptions options, CapturingLoggerProvider logs)
    {
        _host = host;
        Options = options;
        Logs = logs;
    }

    public DaemonOptions Options { get; }

    public CapturingLoggerProvider Logs { get; }

    public string SocketPath => Options.SocketPath;

    public VdpaBus Bus => _host.Services.GetRequiredService<VdpaBus>();

    internal VdpadService Service => _host.Services.GetRequiredService<VdpadService>();

    internal ManagementSocketServer Server => Service.Server!;

    /// <summary>Options for a daemon on <paramref name="dir"/>/vdpad.sock with everything else at its default.</summary>
    public static DaemonOptions OptionsFor(TempDirectory dir) => new() { SocketPath = dir.File("vdpad.sock") };

    /// <summary>Starts a daemon; the socket accepts connections when this returns (start-up is synchronous).</summary>
    public static async Task<TestDaemon> StartAsync(DaemonOptions options, CapturingLoggerProvider? logs = null)
    {
        logs ??= new CapturingLoggerProvider();
        IHost host = VdpadHost.Build(options, l =>
        {
            l.SetMinimumLevel(LogLevel.Debug);
            l.AddProvider(logs);
        });
        try
        {
            using var cts = new CancellationTokenSource(Timeout);
            await host.StartAsync(cts.Token);
        }
        catch
        {
            host.Dispose();
            throw;
        }
        return new TestDaemon(host, options, logs);
    }

    /// <summary>A client like iproute2's (CAP_ACK + EXT_ACK), with a receive timeout so a hang becomes a failure.</summary>
    public VdpaClient Connect(int receiveBufferSize = NetlinkTransportOptions.DefaultReceiveBufferSize)
        => Connect(SocketPath, receiveBufferSize);

    public static VdpaClient Connect(string socketPath, int receiveBufferSize = NetlinkTransportOptions.DefaultReceiveBufferSize)
        => VdpaClient.Connect(UnixSeqpacketTransport.Connect(socketPath, new NetlinkTransportOptions
        {
            ReceiveTimeout = Timeout,
            ReceiveBufferSize = receiveBufferSize,
        }));

    public async Task StopAsync()
    {
        if (_stopped) return;
        _stopped = true;
        using var cts = new CancellationTokenSource(Timeout);
        await _host.StopAsync(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _host.Dispose();
    }
}
