using Xunit.Abstractions;

namespace Uvdpa.Guest.Tests;

/// <summary>
/// QEMU's <c>reconnect=</c> against a restarted back-end: vdpad keeps a file-backed vdpasim_blk device in its state
/// file; the guest writes half of the patterns, then the host stops vdpad (SIGTERM) and only then lets the guest go on
/// writing, so those requests wait in the ring while no back-end exists. The restarted vdpad re-creates the device
/// from the state file and listens again; QEMU (<c>reconnect=1</c>) reconnects and restarts the vrings from its
/// own ring state, and the guest's I/O resumes: every chunk reads back as written and the image holds them all.
/// </summary>
public sealed class ReconnectGuestTests(ITestOutputHelper output)
{
    private const string PhaseMarker = GuestConsole.ResultPrefix + " phase name=before-restart";

    [GuestFact]
    public async Task GuestIo_Resumes_AfterVdpadRestarts_WithQemuReconnect()
    {
        using var bed = await GuestTestBed.StartAsync(output, stateFile: true);
        long capacity = 64L << 20;
        string image = await bed.AddFileBackedBlkAsync("r0", capacity);
        string socket = bed.SocketOf("r0");

        var chunks = BlkPatterns.Plan(capacity, seed: 3);
        var before = chunks.Take(chunks.Count / 2).ToList();
        var after = chunks.Skip(chunks.Count / 2).ToList();
        string scenario = BlkPatterns.ProbeScript() + BlkPatterns.WriteScript(before) + $"""
            echo "{PhaseMarker}"
            read -r go
            echo "$R phase name=resumed input=$go"

            """ + BlkPatterns.WriteScript(after) + BlkPatterns.ReadScript(chunks) + "sync\n";

        GuestConsole console = await bed.BootAsync(new GuestInitramfs(bed.Kernel).AddPatterns(chunks), scenario,
            BlkGuestTests.BlkDeviceArguments(socket, ",reconnect=1"),
            async guest =>
            {
                await guest.WaitForLineAsync(PhaseMarker, GuestTestBed.GuestTimeout);
                bed.StopDaemon();
                Assert.False(File.Exists(socket), "vdpad left its vhost-user socket behind after SIGTERM");
                guest.SendConsoleInput("go\n");
                await bed.StartDaemonAsync();
                bed.SocketOf("r0"); // re-created from the state file and bound to vhost_vdpa again
            });

        string report = bed.LastReport();
        Assert.True(console.OfKind("phase").Any(r => r["name"] == "resumed"), "the guest never got past the restart\n" + report);
        BlkPatterns.VerifyConsole(console, capacity, chunks, report);
        await BlkPatterns.VerifyImageAsync(image, capacity, chunks, report);
    }
}
