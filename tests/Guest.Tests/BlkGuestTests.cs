using Xunit.Abstractions;

namespace Uvdpa.Guest.Tests;

/// <summary>
/// QEMU 7.2 (TCG) <c>vhost-user-blk-pci</c> on a vdpasim_blk device served by vdpad's vhost_vdpa driver: the Debian
/// guest's virtio_blk driver writes known patterns across the disk with O_DIRECT, reads all of them back with
/// O_DIRECT after all writes (a misplaced write would show in another chunk), and the SHA-256 of each read equals the
/// host's. For the file-backed device the image file, read by the host after the guest powered off, equals zeros plus
/// exactly those patterns.
/// </summary>
public sealed class BlkGuestTests(ITestOutputHelper output)
{
    [GuestFact]
    public async Task Guest_WritesAndReadsPatternsWithODirect_OnVdpasimBlk()
    {
        using var bed = await GuestTestBed.StartAsync(output);
        await bed.VdpaAsync("dev", "add", "name", "b0", "mgmtdev", "vdpasim_blk");
        long capacity = 128L << 20; // vdpasim_blk's fixed size (vdpa_sim_blk.c VDPASIM_BLK_CAPACITY, 0x40000 sectors)
        var chunks = BlkPatterns.Plan(capacity, seed: 1);
        await RunPatternGuestAsync(bed, "b0", capacity, chunks);
    }

    [GuestFact]
    public async Task Guest_WritesAndReadsPatternsWithODirect_OnFileBackedBlk_AndTheImageHoldsThem()
    {
        using var bed = await GuestTestBed.StartAsync(output);
        long capacity = 64L << 20;
        string image = await bed.AddFileBackedBlkAsync("f0", capacity);
        var chunks = BlkPatterns.Plan(capacity, seed: 2);
        await RunPatternGuestAsync(bed, "f0", capacity, chunks);

        // The guest powered off and QEMU exited; the host reads the image directly.
        await BlkPatterns.VerifyImageAsync(image, capacity, chunks, bed.LastReport());
    }

    /// <summary>
    /// The QEMU 7.2 trap: without <c>num-queues=1</c> vhost-user-blk-pci wants one queue per vCPU. With two vCPUs and
    /// vdpasim_blk's one queue QEMU must refuse at realize with its clear message on every retry (it reconnects up
    /// to three times; a back-end that refused those reconnects made QEMU print "Protocol error" instead).
    /// </summary>
    [GuestFact]
    public async Task TwoVcpus_WithoutNumQueues_QemuRefusesWithTheQueueCount_OnEveryAttempt()
    {
        using var bed = await GuestTestBed.StartAsync(output);
        await bed.VdpaAsync("dev", "add", "name", "q0", "mgmtdev", "vdpasim_blk");
        string socket = bed.SocketOf("q0");
        string initrd = Path.Combine(bed.Directory, "unused.cpio");
        await new GuestInitramfs(bed.Kernel).WriteAsync(initrd, "");
        using QemuGuest guest = QemuGuest.Start(bed.Kernel, initrd, ["-chardev", $"socket,id=vu0,path={socket}", "-device", "vhost-user-blk-pci,chardev=vu0"], cpus: 2);
        bool exited = await guest.WaitForExitAsync(GuestTestBed.GuestTimeout);
        string report = bed.Report(guest);
        output.WriteLine(guest.Report());
        Assert.True(exited && guest.ExitCode != 0, "QEMU did not fail at realize\n" + report);
        string[] errors = guest.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(errors.Length > 0 && errors.All(l => l.Contains("The maximum number of queues supported by the backend is 1", StringComparison.Ordinal)),
            "QEMU's errors are not all the queue-count refusal\n" + report);
        Assert.True(string.IsNullOrEmpty(guest.Console.Trim()), "the guest booted although realize failed\n" + report);

        // The device is still usable afterwards by a correctly configured guest.
        var chunks = BlkPatterns.Plan(128L << 20, seed: 5).Take(2).ToList();
        string scenario = BlkPatterns.ProbeScript() + BlkPatterns.WriteScript(chunks) + BlkPatterns.ReadScript(chunks);
        GuestConsole console = await bed.BootAsync(new GuestInitramfs(bed.Kernel).AddPatterns(chunks), scenario, BlkDeviceArguments(socket));
        BlkPatterns.VerifyConsole(console, 128L << 20, chunks, bed.LastReport());
    }

    /// <summary>QEMU's device options for a blk device on <paramref name="socket"/>; <paramref name="chardevExtra"/> e.g. ",reconnect=1".</summary>
    internal static string[] BlkDeviceArguments(string socket, string chardevExtra = "") =>
    [
        "-chardev", $"socket,id=vu0,path={socket}{chardevExtra}",
        // num-queues=1: vdpasim_blk has one queue; QEMU 7.2 would otherwise ask for one per vCPU.
        "-device", "vhost-user-blk-pci,chardev=vu0,num-queues=1",
    ];

    private static async Task RunPatternGuestAsync(GuestTestBed bed, string device, long capacity, List<BlkChunk> chunks)
    {
        string socket = bed.SocketOf(device);
        var initramfs = new GuestInitramfs(bed.Kernel).AddPatterns(chunks);
        // All writes first, then all reads.
        string scenario = BlkPatterns.ProbeScript() + BlkPatterns.WriteScript(chunks) + BlkPatterns.ReadScript(chunks) + "sync\n";
        GuestConsole console = await bed.BootAsync(initramfs, scenario, BlkDeviceArguments(socket));
        string report = bed.LastReport();
        BlkPatterns.VerifyConsole(console, capacity, chunks, report);
        await BlkPatterns.VerifyDeviceCountersAsync(bed, device, chunks, report);
    }
}
