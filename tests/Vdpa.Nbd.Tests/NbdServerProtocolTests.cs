using System.Buffers.Binary;
using Uvdpa.Vdpa.VirtioDriver;
using Uvdpa.Virtio.Abi;

namespace Uvdpa.Vdpa.Nbd.Tests;

/// <summary>Request validation, completion order, disconnect and connection-fatal input, against an in-memory export.</summary>
public sealed class NbdServerProtocolTests
{
    private const long Size = 1 << 20;

    [Fact]
    public async Task RepliesLeaveInCompletionOrder_MatchedByHandle()
    {
        var target = new GatedTarget(Size);
        target.Data.AsSpan(0, 512).Fill(0xaa);
        target.Data.AsSpan(4096, 512).Fill(0xbb);
        target.Gate(0);
        var (server, client) = SimBlkRig.Serve(target);
        using (client)
        {
            ulong slow = client.Read(0, 512);
            ulong fast = client.Read(4096, 512);
            var first = await client.ReceiveAsync();
            Assert.Equal(fast, first.Reply.Handle);
            Assert.All(first.Data!, x => Assert.Equal(0xbb, x));
            target.Open(0);
            var second = await client.ReceiveAsync();
            Assert.Equal(slow, second.Reply.Handle);
            Assert.All(second.Data!, x => Assert.Equal(0xaa, x));
        }
        await server.Completion.WaitAsync(NbdTestClient.Deadline);
    }

    [Fact]
    public async Task Disconnect_AnswersWhatIsInFlight_ThenCloses()
    {
        var target = new GatedTarget(Size);
        target.Gate(8192);
        var (server, client) = SimBlkRig.Serve(target);
        using (client)
        {
            ulong w = client.Write(8192, new byte[1024]);
            client.Send(NbdCommand.Disconnect, 0, 0);
            // The reader stopped at DISC, but the gated write is still owed a reply.
            await Task.Delay(50);
            Assert.False(server.Completion.IsCompleted, "the server closed with a request in flight");
            target.Open(8192);
            var r = await client.ReceiveAsync();
            Assert.Equal(w, r.Reply.Handle);
            Assert.Equal(NbdError.None, r.Reply.Error);
            await client.ExpectClosedAsync();
        }
        Assert.Equal("NBD_CMD_DISC", await server.Completion.WaitAsync(NbdTestClient.Deadline));
    }

    public static TheoryData<string, NbdCommand, NbdCommandFlags, ulong, uint, NbdError> BadRequests => new()
    {
        { "read past the end", NbdCommand.Read, NbdCommandFlags.None, Size - 512, 1024, NbdError.Invalid },
        { "read at an offset beyond the end", NbdCommand.Read, NbdCommandFlags.None, ulong.MaxValue - 511, 512, NbdError.Invalid },
        { "read of zero bytes", NbdCommand.Read, NbdCommandFlags.None, 0, 0, NbdError.Invalid },
        { "read at an unaligned offset", NbdCommand.Read, NbdCommandFlags.None, 100, 512, NbdError.Invalid },
        { "read of an unaligned length", NbdCommand.Read, NbdCommandFlags.None, 0, 100, NbdError.Invalid },
        { "read longer than the maximum payload", NbdCommand.Read, NbdCommandFlags.None, 0, (64u << 20), NbdError.Invalid },
        { "trim past the end", NbdCommand.Trim, NbdCommandFlags.None, Size, 512, NbdError.Invalid },
        { "write-zeroes past the end", NbdCommand.WriteZeroes, NbdCommandFlags.None, 0, (uint)Size + 512, NbdError.Invalid },
        { "NO_HOLE on a read", NbdCommand.Read, NbdCommandFlags.NoHole, 0, 512, NbdError.Invalid },
        { "DF without structured replies", NbdCommand.Read, NbdCommandFlags.DontFragment, 0, 512, NbdError.Invalid },
        { "FAST_ZERO not negotiated", NbdCommand.WriteZeroes, NbdCommandFlags.FastZero, 0, 512, NbdError.Invalid },
        { "unknown flag bit", NbdCommand.Read, (NbdCommandFlags)0x8000, 0, 512, NbdError.Invalid },
        { "CACHE (not advertised)", NbdCommand.Cache, NbdCommandFlags.None, 0, 512, NbdError.Invalid },
        { "BLOCK_STATUS (not advertised)", NbdCommand.BlockStatus, NbdCommandFlags.None, 0, 512, NbdError.Invalid },
        { "unknown command 42", (NbdCommand)42, NbdCommandFlags.None, 0, 512, NbdError.Invalid },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task BadRequest_GetsAnErrorReply_AndTheConnectionStaysUsable(string what, NbdCommand cmd, NbdCommandFlags flags, ulong offset, uint length, NbdError expected)
    {
        var target = new GatedTarget(Size);
        target.Data.AsSpan(0, 512).Fill(0x5a);
        var (server, client) = SimBlkRig.Serve(target);
        using (client)
        {
            ulong bad = client.Send(cmd, offset, length, flags: flags);
            var r = await client.ReceiveAsync();
            Assert.Equal(bad, r.Reply.Handle);
            Assert.True(expected == r.Reply.Error, $"{what}: expected {expected}, got {r.Reply.Error}");
            Assert.Equal(0, target.Started); // the device never saw it
            ulong good = client.Read(0, 512);
            var g = await client.ReceiveAsync();
            Assert.Equal(good, g.Reply.Handle);
            Assert.Equal(NbdError.None, g.Reply.Error);
            Assert.All(g.Data!, x => Assert.Equal(0x5a, x));
            Assert.Equal(1, server.Errors);
        }
        await server.Completion.WaitAsync(NbdTestClient.Deadline);
    }

    [Fact]
    public async Task WritePastTheEnd_ConsumesItsPayload_AndAnswersEnospc()
    {
        var target = new GatedTarget(Size);
        var (server, client) = SimBlkRig.Serve(target);
        using (client)
        {
            ulong bad = client.Write(Size - 512, new byte[1024]);
            ulong good = client.Write(0, Enumerable.Repeat((byte)7, 512).ToArray());
            var r = await client.ReceiveAllAsync([bad, good]);
            Assert.Equal(NbdError.NoSpace, r[bad].Reply.Error);
            Assert.Equal(NbdError.None, r[good].Reply.Error);
            Assert.All(target.Data.AsSpan(0, 512).ToArray(), x => Assert.Equal(7, x));
        }
        await server.Completion.WaitAsync(NbdTestClient.Deadline);
    }

    [Fact]
    public async Task ReadOnlyExport_RefusesWritesTrimAndZeroes_WithEperm()
    {
        var target = new GatedTarget(Size, readOnly: true);
        var (server, client) = SimBlkRig.Serve(target);
        using (client)
        {
            Assert.Equal(NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.ReadOnly | NbdTransmissionFlags.SendFlush | NbdTransmissionFlags.SendFua,
                server.TransmissionFlags);
            var h = new[] { client.Write(0, new byte[512]), client.Send(NbdCommand.Trim, 0, 512), client.Send(NbdCommand.WriteZeroes, 0, 512) };
            var r = await client.ReceiveAllAsync(h);
            Assert.All(r.Values, x => Assert.Equal(NbdError.Perm, x.Reply.Error));
            Assert.Equal(0, target.Started);
        }
        await server.Completion.WaitAsync(NbdTestClient.Deadline);
    }

    [Fact]
    public async Task Fua_FlushesAfterTheWrite()
    {
        var target = new GatedTarget(Size);
        var (server, client) = SimBlkRig.Serve(target);
        using (client)
        {
            client.Write(0, new byte[512]);
            await client.ReceiveAsync();
            Assert.Equal(0, target.Flushes);
            client.Write(512, new byte[512], NbdCommandFlags.Fua);
            await client.ReceiveAsync();
            Assert.Equal(1, target.Flushes);
        }
        await server.Completion.WaitAsync(NbdTestClient.Deadline);
    }

    [Fact]
    public async Task BadMagic_ClosesTheConnection()
    {
        var (server, client) = SimBlkRig.Serve(new GatedTarget(Size));
        using (client)
        {
            byte[] junk = new byte[NbdRequestHeader.Size];
            new NbdRequestHeader(0, NbdCommand.Read, 1, 0, 512).Write(junk);
            BinaryPrimitives.WriteUInt32BigEndian(junk, 0x12345678);
            client.SendRaw(junk);
            await client.ExpectClosedAsync();
        }
        Assert.Equal("bad request magic 0x12345678", await server.Completion.WaitAsync(NbdTestClient.Deadline));
    }

    [Fact]
    public async Task OversizedWrite_ClosesTheConnection_WithoutReadingThePayload()
    {
        var (server, client) = SimBlkRig.Serve(new GatedTarget(Size), new NbdServerOptions { MaxPayloadBytes = 64 << 10 });
        using (client)
        {
            client.Send(NbdCommand.Write, 0, 1u << 30);
            await client.ExpectClosedAsync();
        }
        Assert.Contains("exceeds the 65536-byte maximum", await server.Completion.WaitAsync(NbdTestClient.Deadline));
    }

    [Fact]
    public async Task StreamEndingInsideAWritePayload_ClosesCleanly()
    {
        var target = new GatedTarget(Size);
        var (server, client) = SimBlkRig.Serve(target);
        byte[] partial = new byte[NbdRequestHeader.Size + 100];
        new NbdRequestHeader(0, NbdCommand.Write, 9, 0, 4096).Write(partial);
        client.SendRaw(partial);
        client.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        Assert.Equal("the stream ended inside a WRITE payload (100 of 4096 bytes)", await server.Completion.WaitAsync(NbdTestClient.Deadline));
        Assert.Equal(0, target.Started);
        client.Dispose();
    }

    [Fact]
    public async Task InFlightLimit_StopsReading_UntilARequestCompletes()
    {
        var target = new GatedTarget(Size);
        for (int i = 0; i < 4; i++) target.Gate(i * 4096L);
        var (server, client) = SimBlkRig.Serve(target, new NbdServerOptions { MaxInFlight = 2 });
        using (client)
        {
            var h = Enumerable.Range(0, 4).Select(i => client.Read((ulong)i * 4096, 512)).ToArray();
            // Wait until both slots are taken; the third request must not reach the device while they are.
            var sw = System.Diagnostics.Stopwatch.StartNew();
            while (Volatile.Read(ref target.Started) < 2 && sw.Elapsed < NbdTestClient.Deadline) await Task.Delay(5);
            await Task.Delay(100);
            Assert.Equal(2, Volatile.Read(ref target.Started));
            for (int i = 0; i < 4; i++) target.Open(i * 4096L);
            var r = await client.ReceiveAllAsync(h);
            Assert.All(r.Values, x => Assert.Equal(NbdError.None, x.Reply.Error));
            Assert.Equal(4, Volatile.Read(ref target.Started));
        }
        await server.Completion.WaitAsync(NbdTestClient.Deadline);
    }

    [Fact]
    public void DeviceErrors_MapToNbdErrors()
    {
        Assert.Equal(NbdError.Io, NbdServer.MapError(new VirtioBlkException("b", BlkRequestType.Out, 8, BlkStatus.IoErr)));
        Assert.Equal(NbdError.NotSupported, NbdServer.MapError(new VirtioBlkException("b", BlkRequestType.Discard, 8, BlkStatus.Unsupp)));
        Assert.Equal(NbdError.Shutdown, NbdServer.MapError(new VirtioDeviceRemovedException("b")));
        Assert.Equal(NbdError.Perm, NbdServer.MapError(new NotSupportedException("read-only")));
        Assert.Equal(NbdError.Invalid, NbdServer.MapError(new ArgumentOutOfRangeException("sector")));
        Assert.Equal(NbdError.Io, NbdServer.MapError(new IOException("virtqueue 0 is broken")));
    }

    [Fact]
    public void WireLayouts_MatchTheProtocol()
    {
        byte[] req = new byte[NbdRequestHeader.Size];
        new NbdRequestHeader(NbdCommandFlags.Fua, NbdCommand.Write, 0x0102030405060708, 0x1000, 0x200).Write(req);
        Assert.Equal("25609513" + "0001" + "0001" + "0102030405060708" + "0000000000001000" + "00000200", Convert.ToHexString(req).ToLowerInvariant());
        byte[] rep = new byte[NbdSimpleReply.Size];
        new NbdSimpleReply(NbdError.Invalid, 0x0102030405060708).Write(rep);
        Assert.Equal("67446698" + "00000016" + "0102030405060708", Convert.ToHexString(rep).ToLowerInvariant());
    }
}
