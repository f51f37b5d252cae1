namespace Uvdpa.Vdpa.Cli.Tests;

/// <summary>
/// Replays the real transcript of iproute2 7.1 against Linux 6.12 (golden/kernel-6.12-iproute2-7.1-reference-session.txt)
/// with our CLI against <see cref="FakeVdpaKernel"/> and compares stdout, stderr and the exit code byte for byte.
/// The only intended difference is the -V version string.
/// </summary>
public sealed class ReferenceSessionTests
{
    private const string Session71 = "kernel-6.12-iproute2-7.1-reference-session.txt";

    public static TheoryData<int> Entries()
    {
        var d = new TheoryData<int>();
        for (int i = 0; i < Transcript.Load(Session71).Count; i++) d.Add(i);
        return d;
    }

    [Fact]
    public void Transcript_has_the_whole_session()
    {
        IReadOnlyList<TranscriptEntry> entries = Transcript.Load(Session71);
        Assert.Equal(36, entries.Count);
        Assert.Equal("vdpa -V", entries[0].CommandLine);
        Assert.Equal("vdpa -jp dev show", entries[^1].CommandLine);
    }

    [Theory]
    [MemberData(nameof(Entries))]
    public void Command_output_matches_iproute2_7_1_byte_for_byte(int index)
    {
        IReadOnlyList<TranscriptEntry> entries = Transcript.Load(Session71);
        var kernel = new FakeVdpaKernel();
        for (int i = 0; i < index; i++) CliRunner.Run(kernel.CreateTransport(), entries[i].Args);

        TranscriptEntry e = entries[index];
        CliResult r = CliRunner.Run(kernel.CreateTransport(), e.Args);
        Assert.Equal(Expected(e), r);
    }

    /// <summary>The transcript's result with our intended differences applied (the -V line).</summary>
    public static CliResult Expected(TranscriptEntry e) => new(
        e.Stdout.Replace("vdpa utility, iproute2-7.1.0", "vdpa utility, " + CliApp.Version, StringComparison.Ordinal),
        e.Stderr,
        e.Exit);
}
