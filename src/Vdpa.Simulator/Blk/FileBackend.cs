using Microsoft.Win32.SafeHandles;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vdpa.Simulator;

/// <summary>
/// A raw image file as block storage (uvdpa extension): pread/pwrite through <see cref="RandomAccess"/>, DISCARD
/// punches holes, WRITE_ZEROES zeroes the range (fallocate, or plain writes when unsupported), FLUSH calls the sync
/// hook (fdatasync by default) and returns only after it did.
/// </summary>
internal sealed class FileBackend : IBlockBackend
{
    private const int ZeroBufferSize = 64 * 1024;

    private readonly SafeFileHandle _file;
    private readonly Action<SafeFileHandle> _sync;

    private FileBackend(SafeFileHandle file, long capacity, Action<SafeFileHandle> sync)
    {
        _file = file;
        Capacity = capacity;
        _sync = sync;
    }

    /// <inheritdoc />
    public long Capacity { get; }

    /// <summary>
    /// Opens an existing image. Capacity is its size rounded down to 512 bytes. Throws <see cref="IOException"/> family
    /// exceptions for a missing or unreadable file and <see cref="InvalidDataException"/> when it is under 512 bytes.
    /// </summary>
    public static FileBackend Open(string path, Action<SafeFileHandle> sync)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(sync);
        var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        try
        {
            long capacity = RandomAccess.GetLength(file) / 512 * 512;
            if (capacity == 0) throw new InvalidDataException($"image '{path}' is smaller than one 512-byte sector");
            return new FileBackend(file, capacity, sync);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Read(long offset, Span<byte> destination)
    {
        while (destination.Length > 0)
        {
            int n = RandomAccess.Read(_file, destination, offset);
            if (n <= 0)
            {
                // The image shrank under us: what is past its end reads as zeros.
                destination.Clear();
                return;
            }
            destination = destination[n..];
            offset += n;
        }
    }

    /// <inheritdoc />
    public void Write(long offset, ReadOnlySpan<byte> source) => RandomAccess.Write(_file, source, offset);

    /// <inheritdoc />
    public void WriteZeroes(long offset, long length)
    {
        if (length == 0 || RawFile.TryDeallocate(_file, offset, length, zeroRangeOnly: true)) return;
        ReadOnlySpan<byte> zeros = new byte[(int)Math.Min(length, ZeroBufferSize)];
        while (length > 0)
        {
            int n = (int)Math.Min(length, zeros.Length);
            RandomAccess.Write(_file, zeros[..n], offset);
            offset += n;
            length -= n;
        }
    }

    /// <inheritdoc />
    public void Discard(long offset, long length)
    {
        // A hint: a file system without hole punching simply keeps the data.
        if (length > 0) RawFile.TryDeallocate(_file, offset, length, zeroRangeOnly: false);
    }

    /// <inheritdoc />
    public void Flush() => _sync(_file);

    /// <inheritdoc />
    public void Dispose() => _file.Dispose();
}
