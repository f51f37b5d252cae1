using System.Runtime.InteropServices;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vhost.User;

/// <summary>
/// One received message: header, payload and the descriptors that came with it. The message owns the descriptors;
/// a handler that keeps one calls <see cref="TakeDescriptor"/>, and <see cref="Dispose"/> closes the rest.
/// </summary>
public sealed class VhostUserMessage : IDisposable
{
    private readonly FileDescriptor?[] _fds;

    /// <summary>Creates a message (takes ownership of <paramref name="descriptors"/>).</summary>
    public VhostUserMessage(VhostUserHeader header, byte[] payload, IReadOnlyList<FileDescriptor> descriptors)
    {
        ArgumentNullException.ThrowIfNull(payload);
        ArgumentNullException.ThrowIfNull(descriptors);
        Header = header;
        Payload = payload;
        _fds = [.. descriptors];
    }

    /// <summary>The header.</summary>
    public VhostUserHeader Header { get; }

    /// <summary>The request id (may be a value outside <see cref="FrontendRequest"/>).</summary>
    public FrontendRequest Request => (FrontendRequest)Header.Request;

    /// <summary>The payload (Header.PayloadSize bytes).</summary>
    public byte[] Payload { get; }

    /// <summary>How many descriptors arrived.</summary>
    public int DescriptorCount => _fds.Length;

    /// <summary>Takes ownership of descriptor <paramref name="index"/> (it is then not closed by <see cref="Dispose"/>).</summary>
    public FileDescriptor TakeDescriptor(int index)
    {
        var fd = _fds[index] ?? throw new InvalidOperationException($"descriptor {index} was already taken");
        _fds[index] = null;
        return fd;
    }

    /// <summary>Descriptor <paramref name="index"/>, still owned by the message (to inspect before taking it).</summary>
    public FileDescriptor PeekDescriptor(int index)
        => _fds[index] ?? throw new InvalidOperationException($"descriptor {index} was already taken");

    /// <summary>The payload as a u64.</summary>
    public ulong ReadU64() => MemoryMarshal.Read<ulong>(Payload); // host byte order, as the whole protocol

    /// <summary>The payload as an unmanaged wire struct at <paramref name="offset"/>.</summary>
    public T Read<T>(int offset = 0) where T : unmanaged => MemoryMarshal.Read<T>(Payload.AsSpan(offset));

    /// <summary>Closes every descriptor not taken.</summary>
    public void Dispose()
    {
        for (int i = 0; i < _fds.Length; i++)
        {
            _fds[i]?.Dispose();
            _fds[i] = null;
        }
    }
}
