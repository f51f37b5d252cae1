namespace Uvdpa.Dpdk.Tests;

/// <summary>The forward-statistics parser against text testpmd 22.11 printed here (runs without DPDK).</summary>
public sealed class TestpmdStatsTests
{
    // Captured from `stop` after `start tx_first` (io mode, net_virtio_user0 against vdpad).
    private const string Captured = """
        testpmd> stop
        Telling cores to stop...
        Waiting for lcores to finish...

          ---------------------- Forward statistics for port 0  ----------------------
          RX-packets: 796424         RX-dropped: 0             RX-total: 796424
          TX-packets: 796456         TX-dropped: 7             TX-total: 796463
          ----------------------------------------------------------------------------

          +++++++++++++++ Accumulated forward statistics for all ports+++++++++++++++
          RX-packets: 796424         RX-dropped: 0             RX-total: 796424
          TX-packets: 796456         TX-dropped: 7             TX-total: 796463
          ++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++

        Done.
        """;

    [Fact]
    public void ParseLast_ReadsThePortBlock()
    {
        var s = TestpmdForwardStats.ParseLast(Captured, 0);
        Assert.Equal(new TestpmdForwardStats(796424, 0, 796456, 7), s);
    }

    [Fact]
    public void ParseLast_TakesTheLastBlock_AndIgnoresOtherPorts()
    {
        string two = Captured.Replace("796424", "5", StringComparison.Ordinal) + "\n" + Captured.Replace("for port 0", "for port 1", StringComparison.Ordinal) + "\n" + Captured;
        Assert.Equal(796424ul, TestpmdForwardStats.ParseLast(two, 0)!.Value.RxPackets);
        Assert.Equal(796456ul, TestpmdForwardStats.ParseLast(two, 1)!.Value.TxPackets);
    }

    [Fact]
    public void ParseLast_WithoutABlock_IsNull()
    {
        Assert.Null(TestpmdForwardStats.ParseLast("testpmd> stop\nPacket forwarding not started\n", 0));
        Assert.Null(TestpmdForwardStats.ParseLast(Captured, 2));
    }
}
