using System.Text;
using Uvdpa.Interop.Tests;

namespace Uvdpa.Guest.Tests;

/// <summary>The initramfs writer checked against GNU cpio (a reader we did not write) and the console parser.</summary>
public sealed class CpioArchiveTests
{
    [CpioFact]
    public async Task GnuCpio_ListsAndExtractsWhatTheWriterWrote()
    {
        var a = new CpioArchive();
        a.AddDirectory("bin");
        a.AddFile("bin/tool", Encoding.ASCII.GetBytes("#!/bin/sh\necho hi\n"), 0x1ed);
        a.AddDirectory("patterns");
        byte[] odd = new byte[4097];
        for (int i = 0; i < odd.Length; i++) odd[i] = (byte)(i * 13);
        a.AddFile("patterns/p0", odd); // a length that needs padding
        a.AddFile("x", []); // an empty file between two padded entries
        a.AddCharDevice("console", 5, 1);
        byte[] archive = a.Finish();
        Assert.Equal(0, archive.Length % 4);

        string dir = Directory.CreateTempSubdirectory("uvdpa-cpio-").FullName;
        try
        {
            string path = Path.Combine(dir, "a.cpio");
            await File.WriteAllBytesAsync(path, archive);
            ProcessResult list = await ProcessRunner.RunAsync("sh", ["-c", $"cpio -itv --quiet < '{path}'"], null, TimeSpan.FromMinutes(1));
            Assert.True(list.Exit == 0, list.ToString());
            string[] lines = list.StdoutText.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(["bin", "bin/tool", "patterns", "patterns/p0", "x", "console"], lines.Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1]));
            Assert.StartsWith("drwxr-xr-x", lines[0], StringComparison.Ordinal);
            Assert.StartsWith("-rwxr-xr-x", lines[1], StringComparison.Ordinal);
            Assert.StartsWith("crw-------", lines[5], StringComparison.Ordinal);
            Assert.Contains(" 5, ", lines[5], StringComparison.Ordinal); // major 5 (minor follows)

            string root = Path.Combine(dir, "root");
            Directory.CreateDirectory(root);
            // Extract the regular files only (making a device node needs CAP_MKNOD).
            ProcessResult extract = await ProcessRunner.RunAsync("sh", ["-c", $"cd '{root}' && cpio -id --quiet bin bin/tool patterns patterns/p0 x < '{path}'"], null, TimeSpan.FromMinutes(1));
            Assert.True(extract.Exit == 0, extract.ToString());
            Assert.Equal(odd, await File.ReadAllBytesAsync(Path.Combine(root, "patterns", "p0")));
            Assert.Equal("#!/bin/sh\necho hi\n", await File.ReadAllTextAsync(Path.Combine(root, "bin", "tool")));
            Assert.Empty(await File.ReadAllBytesAsync(Path.Combine(root, "x")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Writer_RefusesAbsoluteDuplicateAndLateEntries()
    {
        var a = new CpioArchive();
        Assert.Throws<ArgumentException>(() => a.AddFile("/etc/passwd", []));
        Assert.Throws<ArgumentException>(() => a.AddFile("a/../b", []));
        a.AddFile("f", []);
        Assert.Throws<ArgumentException>(() => a.AddFile("f", []));
        a.Finish();
        Assert.Throws<InvalidOperationException>(() => a.AddFile("g", []));
    }

    [Fact]
    public void Console_ParsesResultsAfterKernelNoise_AndTheEndMarker()
    {
        var c = GuestConsole.Parse(
            "[    1.0] virtio_blk virtio0: [vda] 262144 512-byte logical blocks\r\n" +
            "[    1.2] random: crng init doneUVDPA-RESULT chunk index=3 offset=4096 wrote=ab read=ab\n" +
            "UVDPA-RESULT no-disk extra\n" +
            "UVDPA-END\r\n");
        Assert.True(c.Ended);
        GuestResult chunk = c.OfKind("chunk").Single();
        Assert.Equal(3, chunk.Long("index"));
        Assert.Equal("ab", chunk["read"]);
        Assert.Equal(["extra"], c.OfKind("no-disk").Single().Words);
        Assert.Throws<KeyNotFoundException>(() => chunk["missing"]);
        Assert.False(GuestConsole.Parse("UVDPA-RESULT x a=1\n").Ended);
    }
}

/// <summary>Needs GNU cpio (scripts/setup installs it); skipped otherwise.</summary>
internal sealed class CpioFactAttribute : FactAttribute
{
    public CpioFactAttribute()
    {
        if (TestEnvironment.FindOnPath("cpio") is null) Skip = "SKIPPED: cpio is missing (apt-get install cpio)";
    }
}
