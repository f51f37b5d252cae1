using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Virtio.Memory;

/// <summary>
/// A contiguous piece of memory placed at <see cref="Start"/> in a guest-physical address space: process-private
/// anonymous memory, or a shared mapping of a file descriptor (memfd, or an fd received from a vhost-user front-end).
/// The pages stay mapped while any <see cref="DmaView"/> that uses them is alive, even after <see cref="Dispose"/>.
/// </summary>
public sealed class MemoryRegion : IDisposable
{
    private MemoryRegion(GuestAddress start, long size, MemoryMapping mapping, FileDescriptor? fd, long fdOffset, bool writable)
    {
        if (size <= 0 || size > mapping.Length) throw new ArgumentOutOfRangeException(nameof(size));
        if (start.Value + (ulong)size - 1 < start.Value) throw new ArgumentOutOfRangeException(nameof(start), "region end overflows the address space");
        Start = start;
        Size = size;
        Mapping = mapping;
        Descriptor = fd;
        DescriptorOffset = fdOffset;
        Writable = writable;
    }

    /// <summary>First guest address of the region.</summary>
    public GuestAddress Start { get; }

    /// <summary>Length in bytes.</summary>
    public long Size { get; }

    /// <summary>Last guest address of the region (inclusive).</summary>
    public GuestAddress Last => new(Start.Value + (ulong)Size - 1);

    /// <summary>False when the pages are mapped read-only.</summary>
    public bool Writable { get; }

    /// <summary>The file descriptor behind a shared region (null for private memory): what vhost-user sends to a back-end.</summary>
    public FileDescriptor? Descriptor { get; }

    /// <summary>Offset of the region in <see cref="Descriptor"/>.</summary>
    public long DescriptorOffset { get; }

    /// <summary>The front-end's virtual address of this region, when it came from a vhost-user memory table.</summary>
    public FrontendAddress? FrontendStart { get; init; }

    internal MemoryMapping Mapping { get; }

    /// <summary>Allocates private anonymous memory (lazily committed).</summary>
    public static MemoryRegion Anonymous(GuestAddress start, long size)
    {
        var map = MemoryMapping.Anonymous(size);
        try
        {
            return new MemoryRegion(start, size, map, null, 0, true);
        }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    /// <summary>Allocates shareable memory backed by a new memfd, so the same pages can be mapped again or passed to another process.</summary>
    public static MemoryRegion Shared(GuestAddress start, long size, string name = "uvdpa-guest")
    {
        var fd = MemFd.Create(name, size);
        MemoryMapping? map = null;
        try
        {
            map = MemoryMapping.Shared(fd, 0, size);
            return new MemoryRegion(start, size, map, fd, 0, true);
        }
        catch
        {
            map?.Dispose();
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Maps <paramref name="size"/> bytes of <paramref name="fd"/> at <paramref name="offset"/> as a region at <paramref name="start"/>. Takes ownership of <paramref name="fd"/>.</summary>
    public static MemoryRegion FromDescriptor(GuestAddress start, FileDescriptor fd, long offset, long size, bool writable = true, FrontendAddress? frontendStart = null)
    {
        ArgumentNullException.ThrowIfNull(fd);
        MemoryMapping map;
        try
        {
            map = MemoryMapping.Shared(fd, offset, size, writable);
        }
        catch
        {
            fd.Dispose(); // ownership was transferred
            throw;
        }
        try
        {
            return new MemoryRegion(start, size, map, fd, offset, writable) { FrontendStart = frontendStart };
        }
        catch
        {
            map.Dispose();
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Maps the same pages a second time (a different process address) at guest address <paramref name="start"/>. Only for shared regions.</summary>
    public MemoryRegion MapAgain(GuestAddress start)
    {
        if (Descriptor is null) throw new InvalidOperationException("only a shared (fd-backed) region can be mapped twice");
        return FromDescriptor(start, Descriptor.Duplicate(), DescriptorOffset, Size, Writable, FrontendStart);
    }

    /// <summary>True when [<paramref name="address"/>, +<paramref name="length"/>) lies inside the region.</summary>
    public bool Contains(GuestAddress address, ulong length)
        => address.Value >= Start.Value && length <= (ulong)Size && address.Value - Start.Value <= (ulong)Size - length;

    /// <summary>Unmaps the region once no view uses it, and closes its descriptor.</summary>
    public void Dispose()
    {
        Mapping.Dispose();
        Descriptor?.Dispose();
    }
}
