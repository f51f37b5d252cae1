namespace Uvdpa.Virtio.Queues.Tests.Infrastructure;

/// <summary>The deterministic "device function" every loopback test uses: read all readable bytes, write a transform.</summary>
internal static class Workload
{
    public const int ExtraWritten = 17;

    /// <summary>Byte <paramref name="k"/> of the readable payload of buffer number <paramref name="seq"/>.</summary>
    public static byte Pattern(int seq, long k) => (byte)(seq * 131 + k * 7 + (k >> 8));

    /// <summary>Byte <paramref name="j"/> the device writes, given the readable payload.</summary>
    public static byte Output(ReadOnlySpan<byte> input, long j)
        => input.Length > 0 ? (byte)(input[(int)(j % input.Length)] ^ 0x5A) : (byte)(j * 13 + 1);

    public static ulong ExpectedWritten(ulong readable, ulong writable) => Math.Min(writable, readable + ExtraWritten);

    /// <summary>Serves one chain; returns the used length. Throws only on a test failure (never in the steady state).</summary>
    public static uint Serve(Uvdpa.Virtio.Memory.DmaView memory, DescriptorChain chain, byte[] input, byte[] output)
    {
        int readable = checked((int)chain.ReadableLength);
        var reader = chain.CreateReader();
        int n = reader.Read(memory, input.AsSpan(0, readable));
        if (n != readable || reader.Remaining != 0) throw new InvalidOperationException($"read {n} of {readable}");
        int toWrite = (int)ExpectedWritten((ulong)readable, chain.WritableLength);
        var inSpan = input.AsSpan(0, readable);
        for (int j = 0; j < toWrite; j++) output[j] = Output(inSpan, j);
        var writer = chain.CreateWriter();
        if (writer.Write(memory, output.AsSpan(0, toWrite)) != toWrite) throw new InvalidOperationException("write fault");
        return (uint)writer.Written;
    }
}
