using System.Globalization;
using System.Text;

namespace Uvdpa.Guest.Tests;

/// <summary>
/// Writes an uncompressed "newc" cpio archive (the initramfs format the kernel unpacks, see
/// Documentation/driver-api/early-userspace/buffer-format.rst): per entry a 110-byte ASCII header of 13 eight-digit
/// hex fields after the magic <c>070701</c>, the NUL-terminated name padded to 4 bytes, the data padded to 4 bytes;
/// the archive ends with the entry <c>TRAILER!!!</c>.
/// </summary>
internal sealed class CpioArchive
{
    private const int ModeDirectory = 0x4000; // S_IFDIR
    private const int ModeRegular = 0x8000; // S_IFREG
    private const int ModeCharDevice = 0x2000; // S_IFCHR

    private readonly MemoryStream _out = new();
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private int _inode = 1;
    private bool _finished;

    /// <summary>A directory (its parents must have been added first, as the kernel creates entries in order).</summary>
    public void AddDirectory(string name, int permissions = 0x1ed /* 0755 */) => Add(name, ModeDirectory | permissions, [], 0, 0);

    /// <summary>A regular file.</summary>
    public void AddFile(string name, ReadOnlySpan<byte> data, int permissions = 0x1a4 /* 0644 */) => Add(name, ModeRegular | permissions, data, 0, 0);

    /// <summary>A character device node.</summary>
    public void AddCharDevice(string name, int major, int minor, int permissions = 0x180 /* 0600 */) => Add(name, ModeCharDevice | permissions, [], major, minor);

    /// <summary>Appends the trailer and returns the archive; nothing can be added afterwards.</summary>
    public byte[] Finish()
    {
        Add("TRAILER!!!", 0, [], 0, 0, trailer: true);
        _finished = true;
        return _out.ToArray();
    }

    private void Add(string name, int mode, ReadOnlySpan<byte> data, int rdevMajor, int rdevMinor, bool trailer = false)
    {
        if (_finished) throw new InvalidOperationException("the archive is finished");
        if (name.Length == 0 || name.StartsWith('/') || name.Contains("..", StringComparison.Ordinal))
            throw new ArgumentException($"cpio entry name '{name}' must be relative and normalised", nameof(name));
        if (!trailer && !_names.Add(name)) throw new ArgumentException($"cpio entry '{name}' added twice", nameof(name));
        byte[] nameBytes = Encoding.UTF8.GetBytes(name + "\0");
        var header = new StringBuilder("070701", 110);
        foreach (long field in (long[])[trailer ? 0 : _inode++, mode, 0, 0, (mode & ModeDirectory) != 0 ? 2 : 1, 0, data.Length, 0, 0, rdevMajor, rdevMinor, nameBytes.Length, 0])
            header.Append(field.ToString("x8", CultureInfo.InvariantCulture));
        _out.Write(Encoding.ASCII.GetBytes(header.ToString()));
        _out.Write(nameBytes);
        Pad();
        _out.Write(data);
        Pad();
    }

    private void Pad()
    {
        while (_out.Length % 4 != 0) _out.WriteByte(0);
    }
}
