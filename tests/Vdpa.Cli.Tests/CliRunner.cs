using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Cli.Tests;

/// <summary>What one run of the tool produced.</summary>
public sealed record CliResult(string Stdout, string Stderr, int Exit)
{
    public override string ToString() => $"exit {Exit} stdout \"{Escape(Stdout)}\" stderr \"{Escape(Stderr)}\"";

    private static string Escape(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}

/// <summary>Runs the CLI in process against a transport.</summary>
public static class CliRunner
{
    /// <summary>A fixed time(NULL) so requests are reproducible.</summary>
    public const uint Clock = 1_795_575_773;

    public static CliResult Run(INetlinkTransport? transport, params string[] args)
    {
        var o = new StringWriter { NewLine = "\n" };
        var e = new StringWriter { NewLine = "\n" };
        int rc = CliApp.Run(args, o, e, transport ?? new NoPeerTransport(), () => Clock);
        return new CliResult(o.ToString(), e.ToString(), rc);
    }
}

/// <summary>A peer that is not there: every send fails, as with no vdpa module or no vdpad.</summary>
public sealed class NoPeerTransport : INetlinkTransport
{
    public int ReceiveBufferSize => 32768;

    public NetlinkAckOptions AckOptions => NetlinkAckOptions.Iproute2;

    public void Send(ReadOnlySpan<byte> datagram) => throw new NetlinkTransportException("no peer", Errno.ECONNREFUSED);

    public ReadOnlySpan<byte> Receive() => throw new NetlinkTransportException("no peer", Errno.ECONNREFUSED);

    public void Dispose() { }
}

/// <summary>An in-memory transport whose peer is a function from a request datagram to reply datagrams.</summary>
public sealed class FuncTransport(Func<byte[], IReadOnlyList<byte[]>> peer) : INetlinkTransport
{
    private readonly Queue<byte[]> _pending = new();
    private byte[] _last = [];

    public List<byte[]> Sent { get; } = [];

    public int ReceiveBufferSize => 32768;

    public NetlinkAckOptions AckOptions => NetlinkAckOptions.Iproute2;

    public void Send(ReadOnlySpan<byte> datagram)
    {
        Sent.Add(datagram.ToArray());
        foreach (byte[] r in peer(datagram.ToArray())) _pending.Enqueue(r);
    }

    public ReadOnlySpan<byte> Receive()
    {
        if (!_pending.TryDequeue(out byte[]? d)) throw new NetlinkTransportException("no reply queued", Errno.ETIMEDOUT);
        _last = d;
        return _last;
    }

    public void Dispose() { }
}
