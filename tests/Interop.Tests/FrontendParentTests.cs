using Xunit.Abstractions;

namespace Uvdpa.Interop.Tests;

/// <summary>
/// The vhost-user front-end parent registered in vdpad (<c>--mgmtdev vhost_user_fe</c>): one vdpad serves a
/// vdpasim_blk device on a vhost-user socket (vhost_vdpa); a second vdpad adds a <c>vhost_user_fe</c> device on that
/// socket and binds it to its in-process virtio driver, which negotiates through both daemons; deleting it ends the
/// session. An unreachable socket fails the add with a message saying why.
/// </summary>
public sealed class FrontendParentTests(ITestOutputHelper output)
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);

    private static async Task<ProcessResult> Cli(VdpadProcess vdpad, params string[] args)
        => await ProcessRunner.RunAsync("dotnet", [TestEnvironment.CliDll, .. args],
            new Dictionary<string, string?> { ["UVDPA_SOCKET"] = vdpad.SocketPath }, CommandTimeout);

    [Fact]
    public async Task AFrontendParentDevice_DrivesAnotherDaemonsBlkDevice_AndLetsGoOnDelete()
    {
        string vu = Directory.CreateTempSubdirectory("uvdpa-fe-").FullName;
        VdpadProcess? backend = null, frontend = null;
        try
        {
            backend = await VdpadProcess.StartAsync("--drivers", "vhost_vdpa", "--vhost-user-dir", vu);
            frontend = await VdpadProcess.StartAsync("--mgmtdev", "vhost_user_fe", "--drivers", "virtio_vdpa");
            var add = await Cli(backend, "dev", "add", "name", "blk0", "mgmtdev", "vdpasim_blk");
            Assert.True(add.Exit == 0, $"backend dev add blk0: {add}\n{backend.Log}");
            string socket = Path.Combine(vu, "blk0.sock");
            Assert.True(File.Exists(socket), $"no socket at {socket}\n{backend.Log}");

            var mgmt = await Cli(frontend, "mgmtdev", "show");
            Assert.Contains("vhost_user_fe:", mgmt.StdoutText, StringComparison.Ordinal);

            var bad = await Cli(frontend, "uvdpa", "dev", "add", "name", "fe9", "mgmtdev", "vhost_user_fe", "opt", $"socket={Path.Combine(vu, "absent.sock")}");
            output.WriteLine($"unreachable socket: {bad}");
            Assert.NotEqual(0, bad.Exit);
            Assert.Contains("cannot connect", bad.StderrText, StringComparison.Ordinal);

            add = await Cli(frontend, "uvdpa", "dev", "add", "name", "fe0", "mgmtdev", "vhost_user_fe", "opt", $"socket={socket}");
            Assert.True(add.Exit == 0, $"frontend uvdpa dev add fe0: {add}\nfrontend:\n{frontend.Log}\nbackend:\n{backend.Log}");
            var show = await Cli(frontend, "uvdpa", "dev", "show", "fe0");
            output.WriteLine(show.StdoutText);
            Assert.Contains("mgmtdev vhost_user_fe", show.StdoutText, StringComparison.Ordinal);
            Assert.Contains("driver virtio_vdpa", show.StdoutText, StringComparison.Ordinal);
            var dev = await Cli(frontend, "dev", "show", "fe0");
            Assert.Contains("fe0: type block mgmtdev vhost_user_fe", dev.StdoutText, StringComparison.Ordinal);
            // Our in-process driver reached DRIVER_OK through the session, and so did the back-end's device.
            Assert.Contains("DRIVER_OK", show.StdoutText, StringComparison.Ordinal);
            var status = await Cli(backend, "uvdpa", "dev", "show", "blk0");
            output.WriteLine(status.StdoutText);
            Assert.Contains("DRIVER_OK", status.StdoutText, StringComparison.Ordinal);

            var del = await Cli(frontend, "dev", "del", "fe0");
            Assert.True(del.Exit == 0, $"frontend dev del fe0: {del}\n{frontend.Log}");
            var list = await Cli(frontend, "dev", "show");
            Assert.DoesNotContain("fe0", list.StdoutText, StringComparison.Ordinal);
            // The session ended with the device: the back-end resets blk0 (it sees the disconnect asynchronously).
            var deadline = DateTime.UtcNow + CommandTimeout;
            do
            {
                status = await Cli(backend, "uvdpa", "dev", "show", "blk0");
                if (!status.StdoutText.Contains("DRIVER_OK", StringComparison.Ordinal)) break;
                await Task.Delay(100);
            }
            while (DateTime.UtcNow < deadline);
            Assert.False(status.StdoutText.Contains("DRIVER_OK", StringComparison.Ordinal), $"blk0 still running after fe0 was deleted:\n{status.StdoutText}\n{backend.Log}");
            // The back-end serves the next front-end: a second add on the same socket works.
            add = await Cli(frontend, "uvdpa", "dev", "add", "name", "fe1", "mgmtdev", "vhost_user_fe", "opt", $"socket={socket}");
            Assert.True(add.Exit == 0, $"frontend uvdpa dev add fe1 after fe0 was deleted: {add}\nfrontend:\n{frontend.Log}\nbackend:\n{backend.Log}");
        }
        finally
        {
            foreach (var d in new[] { frontend, backend })
            {
                if (d is null) continue;
                int? exit = d.Terminate();
                output.WriteLine($"vdpad exit {exit?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(killed)"}\n{d.Log}");
                d.Dispose();
            }
            Directory.Delete(vu, recursive: true);
        }
    }
}
