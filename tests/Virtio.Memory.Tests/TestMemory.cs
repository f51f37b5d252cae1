using System.Runtime.InteropServices;

namespace Uvdpa.Virtio.Memory.Tests;

/// <summary>Helpers that look at region bytes directly (through the internal mapping), bypassing DmaView.</summary>
internal static class TestMemory
{
    public const int Page = 4096;

    public static GuestAddress Gpa(ulong v) => new(v);

    public static Iova Iova(ulong v) => new(v);

    public static MemoryRegion Filled(ulong gpa, long size, byte value, bool shared = false)
    {
        var r = shared ? MemoryRegion.Shared(Gpa(gpa), size) : MemoryRegion.Anonymous(Gpa(gpa), size);
        Fill(r, value);
        return r;
    }

    public static void Fill(MemoryRegion r, byte value)
    {
        var bytes = new byte[r.Size];
        Array.Fill(bytes, value);
        Marshal.Copy(bytes, 0, r.Mapping.Address, bytes.Length);
    }

    public static void Poke(MemoryRegion r, long offset, ReadOnlySpan<byte> data)
        => Marshal.Copy(data.ToArray(), 0, r.Mapping.Address + (nint)offset, data.Length);

    public static byte[] Peek(MemoryRegion r, long offset, int length)
    {
        var b = new byte[length];
        Marshal.Copy(r.Mapping.Address + (nint)offset, b, 0, length);
        return b;
    }

    /// <summary>A read-only region over a fresh memfd whose bytes are <paramref name="value"/>.</summary>
    public static MemoryRegion ReadOnly(ulong gpa, long size, byte value)
    {
        using var writer = Filled(0, size, value, shared: true);
        return MemoryRegion.FromDescriptor(Gpa(gpa), writer.Descriptor!.Duplicate(), 0, size, writable: false);
    }
}
