using System.Runtime.InteropServices;

namespace Uvdpa.Virtio.Platform.Linux.Interop;

/// <summary>The only P/Invoke declarations of the project (libc). Callers turn failures into <see cref="PlatformException"/>.</summary>
internal static unsafe partial class Libc
{
    private const string Lib = "libc";

    internal const int PROT_READ = 0x1;
    internal const int PROT_WRITE = 0x2;
    internal const int MAP_SHARED = 0x01;
    internal const int MAP_PRIVATE = 0x02;
    internal const int MAP_ANONYMOUS = 0x20;
    internal const int MAP_NORESERVE = 0x4000;
    internal const int MFD_CLOEXEC = 0x1;
    internal const int MFD_ALLOW_SEALING = 0x2;
    internal const int EFD_CLOEXEC = 0x80000;
    internal const int EFD_NONBLOCK = 0x800;
    internal const int MADV_DONTNEED = 4;
    internal const int FALLOC_FL_KEEP_SIZE = 0x1;
    internal const int FALLOC_FL_PUNCH_HOLE = 0x2;
    internal const int FALLOC_FL_ZERO_RANGE = 0x10;
    internal const int O_RDWR = 0x2;
    internal const int O_CREAT = 0x40;
    internal const int O_CLOEXEC = 0x80000;
    internal const int EINTR = 4;
    internal const int EAGAIN = 11;

    internal static readonly nint MAP_FAILED = -1;

    [LibraryImport(Lib, EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MemfdCreate(string name, uint flags);

    [LibraryImport(Lib, EntryPoint = "ftruncate", SetLastError = true)]
    internal static partial int FTruncate(int fd, long length);

    [LibraryImport(Lib, EntryPoint = "mmap", SetLastError = true)]
    internal static partial nint Mmap(nint addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport(Lib, EntryPoint = "munmap", SetLastError = true)]
    internal static partial int Munmap(nint addr, nuint length);

    [LibraryImport(Lib, EntryPoint = "madvise", SetLastError = true)]
    internal static partial int Madvise(nint addr, nuint length, int advice);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport(Lib, EntryPoint = "eventfd", SetLastError = true)]
    internal static partial int EventFd(uint initval, int flags);

    [LibraryImport(Lib, EntryPoint = "read", SetLastError = true)]
    internal static partial nint Read(int fd, void* buf, nuint count);

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    internal static partial nint Write(int fd, void* buf, nuint count);

    [LibraryImport(Lib, EntryPoint = "pread", SetLastError = true)]
    internal static partial nint PRead(int fd, void* buf, nuint count, long offset);

    [LibraryImport(Lib, EntryPoint = "pwrite", SetLastError = true)]
    internal static partial nint PWrite(int fd, void* buf, nuint count, long offset);

    [LibraryImport(Lib, EntryPoint = "fdatasync", SetLastError = true)]
    internal static partial int FDataSync(int fd);

    [LibraryImport(Lib, EntryPoint = "fallocate", SetLastError = true)]
    internal static partial int FAllocate(int fd, int mode, long offset, long len);

    [LibraryImport(Lib, EntryPoint = "dup", SetLastError = true)]
    internal static partial int Dup(int fd);

    [LibraryImport(Lib, EntryPoint = "strerror")]
    internal static partial nint StrError(int errnum);

    internal static string ErrorText(int errno) => Marshal.PtrToStringUTF8(StrError(errno)) ?? $"errno {errno}";
}
