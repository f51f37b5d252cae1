using System.Diagnostics;
using System.Net.Sockets;
using Uvdpa.Vdpa.Netlink;
using Uvdpa.Vdpa.VirtioDriver;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vdpa.Nbd;

/// <summary>
/// A <see cref="VirtioBlkDevice"/> exposed as the kernel block device /dev/nbdN: a socketpair whose one end is
/// served in process by an <see cref="NbdServer"/> and whose other end is handed to the kernel's nbd driver with
/// NBD_CMD_CONNECT over generic netlink (size = capacity × 512 rounded down to the block size, block size =
/// blk_size, flags from the device's features). No thread blocks in the kernel (unlike the NBD_DO_IT ioctl).
/// <see cref="Dispose"/> disconnects (the kernel sends NBD_CMD_DISC and shuts its end down), waits until the server
/// answered what was in flight and the kernel released the device, then returns; the virtio device can go next.
/// </summary>
public sealed class NbdExport : IDisposable
{
    /// <summary>How long teardown waits for the server to drain and for the kernel to release the device.</summary>
    public static readonly TimeSpan ReleaseTimeout = TimeSpan.FromSeconds(15);

    private readonly NbdKernelClient _kernel;
    private int _disposed;

    private NbdExport(NbdKernelClient kernel, NbdServer server, int index, string name)
    {
        _kernel = kernel;
        Server = server;
        Index = index;
        DeviceName = name;
    }

    /// <summary>The nbd device index N.</summary>
    public int Index { get; }

    /// <summary>/dev/nbdN.</summary>
    public string DevicePath => $"/dev/nbd{Index}";

    /// <summary>The vDPA device served.</summary>
    public string DeviceName { get; }

    /// <summary>The server behind the kernel's socket (statistics, flags, size).</summary>
    public NbdServer Server { get; }

    /// <summary>What the last teardown saw when it could not finish cleanly (null: clean or not torn down yet).</summary>
    public string? TeardownProblem { get; private set; }

    /// <summary>
    /// Connects <paramref name="device"/> to /dev/nbd<paramref name="index"/> (null: the kernel picks a free one).
    /// Throws <see cref="VdpaFamilyNotFoundException"/> when the kernel has no nbd driver,
    /// <see cref="VdpaNetlinkException"/> when it refuses (EBUSY: index in use; EPERM: no CAP_SYS_ADMIN),
    /// <see cref="PlatformException"/> when no socket pair can be made.
    /// </summary>
    public static NbdExport Connect(VirtioBlkDevice device, int? index = null, NbdServerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (index is < 0) throw new ArgumentOutOfRangeException(nameof(index), index, "must not be negative");
        var target = new VirtioBlkTarget(device);
        if (target.SizeBytes == 0) throw new ArgumentException($"{device.Name}: capacity {device.Capacity} sectors is below one {device.BlockSize}-byte block", nameof(device));
        NbdKernelClient kernel = NbdKernelClient.Open();
        Socket? ours = null, theirs = null;
        NbdServer? server = null;
        try
        {
            (ours, theirs) = LinuxSockets.CreateStreamPair();
            server = NbdServer.Start(ours, target, options);
            ours = null; // the server owns it
            int got = kernel.Connect(index, theirs, server.SizeBytes, server.BlockSize, server.TransmissionFlags, "uvdpa:" + device.Name);
            return new NbdExport(kernel, server, got, device.Name);
        }
        catch
        {
            ours?.Dispose();
            if (server is not null)
            {
                // Nothing connected: closing the kernel's end ends the server at once.
                theirs?.Dispose();
                server.StopAsync(ReleaseTimeout).GetAwaiter().GetResult();
            }
            kernel.Dispose();
            throw;
        }
        finally
        {
            // The kernel holds its own reference to its end after NBD_CMD_CONNECT (or never got one).
            theirs?.Dispose();
        }
    }

    /// <summary>
    /// Disconnects and waits (up to <see cref="ReleaseTimeout"/>) until the server drained and the kernel no longer
    /// holds the device. A device still open in the kernel (mounted, or a process holding /dev/nbdN) keeps its
    /// configuration until closed; then <see cref="TeardownProblem"/> says so and the wait ends at the deadline.
    /// Never throws.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        var problems = new List<string>();
        var clock = Stopwatch.StartNew();
        try
        {
            try
            {
                _kernel.Disconnect(Index);
            }
            catch (Exception e) when (e is VdpaNetlinkException or NetlinkTransportException or NetlinkFormatException)
            {
                // EINVAL: the kernel already dropped the connection (e.g. after a timeout); nothing left to disconnect.
                problems.Add($"NBD_CMD_DISCONNECT: {e.Message}");
            }
            if (!Server.Completion.Wait(Remaining(clock)))
            {
                problems.Add($"the server still had requests in flight after {ReleaseTimeout.TotalSeconds:0}s");
                Server.StopAsync(TimeSpan.FromSeconds(1)).GetAwaiter().GetResult();
            }
            bool? connected = true;
            while (true)
            {
                try
                {
                    connected = _kernel.IsConnected(Index);
                }
                catch (Exception e) when (e is VdpaNetlinkException or NetlinkTransportException or NetlinkFormatException)
                {
                    problems.Add($"NBD_CMD_STATUS: {e.Message}");
                    break;
                }
                if (connected != true) break;
                if (clock.Elapsed >= ReleaseTimeout)
                {
                    problems.Add($"{DevicePath} is still configured after {ReleaseTimeout.TotalSeconds:0}s (open or mounted?)");
                    break;
                }
                // Polling interval of the release check (the kernel has no notification for it); the loop ends as
                // soon as the status says the device is free.
                Thread.Sleep(20);
            }
        }
        finally
        {
            _kernel.Dispose();
            TeardownProblem = problems.Count == 0 ? null : string.Join("; ", problems);
        }
    }

    private static TimeSpan Remaining(Stopwatch clock)
    {
        var left = ReleaseTimeout - clock.Elapsed;
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }
}
