using Uvdpa.Vdpa.Cli;
using Xunit.Abstractions;

namespace Uvdpa.Interop.Tests;

/// <summary>
/// The reference sessions captured on Linux 6.12 (shared/docs/reference/golden), replayed against a real vdpad:
/// with the installed iproute2 6.1 <c>vdpa</c>, unmodified, its generic netlink socket redirected to vdpad by the
/// LD_PRELOAD shim; and with our CLI (<c>dotnet vdpa.dll</c>, the JIT build) against the 7.1 capture.
/// The VM also had a third management device, vduse, which vdpad cannot offer: its block is removed from the
/// expected mgmtdev output (each test prints which commands that touched).
/// </summary>
public sealed class VdpadSessionTests(ITestOutputHelper output)
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);

    [Iproute2Fact]
    public async Task Iproute2_6_1_UnmodifiedAndRedirected_PrintsWhatItPrintsAgainstKernel6_12()
    {
        string shim = await NetlinkShim.BuildAsync();
        IReadOnlyList<TranscriptEntry> expected = ExpectedWithoutVduse(Transcript.Session61);
        using VdpadProcess vdpad = await VdpadProcess.StartAsync();
        try
        {
            await SessionReplay.RunAsync(expected,
                args => ProcessRunner.RunAsync(TestEnvironment.Iproute2Vdpa, args, NetlinkShim.Environment(shim, vdpad.SocketPath), CommandTimeout),
                output, $"iproute2 6.1 ({TestEnvironment.Iproute2Vdpa}) via {Path.GetFileName(shim)} on vdpad");
        }
        catch
        {
            output.WriteLine("vdpad's log:\n" + vdpad.Log);
            throw;
        }
    }

    [Fact]
    public async Task OurCli_Jit_PrintsWhatIproute2_7_1_PrintsAgainstKernel6_12()
    {
        IReadOnlyList<TranscriptEntry> expected = ExpectedWithoutVduse(Transcript.Session71)
            .Select(e => e with { Stdout = e.Stdout.Replace("vdpa utility, iproute2-7.1.0", "vdpa utility, " + CliApp.Version, StringComparison.Ordinal) })
            .ToList();
        using VdpadProcess vdpad = await VdpadProcess.StartAsync();
        try
        {
            await SessionReplay.RunAsync(expected,
                args => ProcessRunner.RunAsync("dotnet", [TestEnvironment.CliDll, .. args],
                    new Dictionary<string, string?> { ["UVDPA_SOCKET"] = vdpad.SocketPath }, CommandTimeout),
                output, $"our CLI (dotnet {TestEnvironment.CliDll}) on vdpad");
        }
        catch
        {
            output.WriteLine("vdpad's log:\n" + vdpad.Log);
            throw;
        }
    }

    [Fact]
    public void VduseRemoval_LeavesTheOtherParentsIntact()
    {
        IReadOnlyList<TranscriptEntry> all = Transcript.Load(Transcript.Session61);
        TranscriptEntry list = Transcript.WithoutManagementDevice(all.Single(e => e.CommandLine == "vdpa mgmtdev list"), "vduse");
        Assert.Equal("""
            vdpasim_net: 
              supported_classes net
              max_supported_vqs 3
              dev_features MTU MAC STATUS CTRL_VQ CTRL_MAC_ADDR ANY_LAYOUT VERSION_1 ACCESS_PLATFORM
            vdpasim_blk: 
              supported_classes block
              max_supported_vqs 0
              dev_features

            """.ReplaceLineEndings("\n"), list.Stdout);
        TranscriptEntry json = Transcript.WithoutManagementDevice(all.Single(e => e.CommandLine == "vdpa -jp mgmtdev show"), "vduse");
        Assert.EndsWith("""
                    "vdpasim_blk": {
                        "supported_classes": [ "block" ],
                        "max_supported_vqs": 0,
                        "dev_features": [ ]
                    }
                }
            }

            """.ReplaceLineEndings("\n"), json.Stdout);
        Assert.Equal(36, all.Count);
    }

    private IReadOnlyList<TranscriptEntry> ExpectedWithoutVduse(string session)
    {
        var list = new List<TranscriptEntry>();
        foreach (TranscriptEntry e in Transcript.Load(session))
        {
            TranscriptEntry edited = Transcript.WithoutManagementDevice(e, "vduse");
            if (!ReferenceEquals(edited, e))
                output.WriteLine($"note: vdpad offers no vduse management device; removed the vduse block from the expected output of `{e.CommandLine}`");
            list.Add(edited);
        }
        return list;
    }
}

/// <summary>The replay itself notices a difference in any of stdout, stderr or the exit code.</summary>
public sealed class SessionReplayTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("out\n", "", 0)]
    [InlineData("a0\n", "x\n", 0)]
    [InlineData("a0\n", "", 1)]
    [InlineData("a0", "", 0)]
    public async Task AnyDifference_Fails(string stdout, string stderr, int exit)
    {
        TranscriptEntry[] expected = [new(["dev", "show"], "a0\n", "", 0)];
        var e = await Assert.ThrowsAnyAsync<Exception>(() => SessionReplay.RunAsync(expected,
            _ => Task.FromResult(new ProcessResult(System.Text.Encoding.UTF8.GetBytes(stdout), System.Text.Encoding.UTF8.GetBytes(stderr), exit)),
            output, "self-test"));
        Assert.Contains("1 of 1 commands differ", e.Message);
    }

    [Fact]
    public async Task SameBytes_Pass()
    {
        TranscriptEntry[] expected = [new(["dev", "show"], "a0\n", "e\n", 1)];
        await SessionReplay.RunAsync(expected,
            _ => Task.FromResult(new ProcessResult("a0\n"u8.ToArray(), "e\n"u8.ToArray(), 1)), output, "self-test");
    }

    [Fact]
    public void Transcript_RoundTrips()
    {
        string text = File.ReadAllText(TestEnvironment.Golden(Transcript.Session61));
        Assert.Equal(text, Transcript.Render(Transcript.Parse(text)));
    }
}
