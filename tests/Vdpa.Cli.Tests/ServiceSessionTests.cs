namespace Uvdpa.Vdpa.Cli.Tests;

/// <summary>
/// The reference session of iproute2 7.1 against Linux 6.12, replayed with our CLI against vdpad's real management
/// service (NetlinkService over VdpaBus with vdpasim_net, vdpasim_blk, vduse and virtio_vdpa): every command's
/// stdout, stderr and exit code must equal the real transcript byte for byte (the -V line aside).
/// </summary>
public sealed class ServiceSessionTests
{
    private const string Session71 = "kernel-6.12-iproute2-7.1-reference-session.txt";

    public static TheoryData<int> Entries() => ReferenceSessionTests.Entries();

    [Theory]
    [MemberData(nameof(Entries))]
    public void Command_output_over_vdpad_matches_iproute2_7_1_on_linux_6_12(int index)
    {
        IReadOnlyList<TranscriptEntry> entries = Transcript.Load(Session71);
        using var stack = new ServiceStack();
        for (int i = 0; i < index; i++) CliRunner.Run(stack.Connect(), entries[i].Args);

        TranscriptEntry e = entries[index];
        Assert.Equal(ReferenceSessionTests.Expected(e), CliRunner.Run(stack.Connect(), e.Args));
    }

    [Fact]
    public void Whole_session_in_one_pass()
    {
        using var stack = new ServiceStack();
        var mismatches = new List<string>();
        foreach (TranscriptEntry e in Transcript.Load(Session71))
        {
            CliResult expected = ReferenceSessionTests.Expected(e);
            CliResult actual = CliRunner.Run(stack.Connect(), e.Args);
            if (expected != actual) mismatches.Add($"{e}: expected {expected}, got {actual}");
        }
        Assert.Empty(mismatches);
    }
}
