using System.Text;
using Uvdpa.Interop.Tests;

namespace Uvdpa.Guest.Tests;

/// <summary>
/// Builds the guest's initramfs: a static busybox (its applets installed as symlinks at boot), the virtio modules in
/// load order, extra files (patterns, helpers) and an <c>/init</c> that mounts proc/sys/dev, loads the modules, runs
/// the scenario and powers off. The scenario reports on the serial console with lines starting with
/// <see cref="GuestConsole.ResultPrefix"/>; the init prints <see cref="GuestConsole.EndMarker"/> last.
/// </summary>
internal sealed class GuestInitramfs
{
    private readonly GuestKernel _kernel;
    private readonly List<(string Name, byte[] Data, bool Executable)> _files = [];

    public GuestInitramfs(GuestKernel kernel) => _kernel = kernel;

    /// <summary>Adds a file under the root (name relative, e.g. <c>patterns/p0</c>); its folders are created.</summary>
    public GuestInitramfs AddFile(string name, byte[] data, bool executable = false)
    {
        _files.Add((name, data, executable));
        return this;
    }

    /// <summary>Writes the archive to <paramref name="path"/> with <paramref name="scenario"/> (a busybox sh fragment) as the body of /init.</summary>
    public async Task WriteAsync(string path, string scenario)
    {
        var cpio = new CpioArchive();
        var dirs = new HashSet<string>(StringComparer.Ordinal);
        void Dir(string d)
        {
            if (d.Length == 0 || !dirs.Add(d)) return;
            Dir(Path.GetDirectoryName(d) ?? "");
            cpio.AddDirectory(d);
        }
        foreach (string d in (string[])["bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "lib/modules"]) Dir(d);
        // The kernel opens /dev/console for init's stdio before init can mount devtmpfs.
        cpio.AddCharDevice("dev/console", 5, 1);
        cpio.AddFile("bin/busybox", await File.ReadAllBytesAsync(_kernel.Busybox), 0x1ed);

        var insmods = new StringBuilder();
        foreach (string module in _kernel.Modules)
        {
            string name = Path.GetFileName(module);
            byte[] data;
            if (name.EndsWith(".xz", StringComparison.Ordinal))
            {
                ProcessResult r = await ProcessRunner.RunAsync("xz", ["-dc", module], null, TimeSpan.FromMinutes(1));
                if (r.Exit != 0) throw new InvalidOperationException($"xz -dc {module} failed:\n{r}");
                data = r.Stdout;
                name = name[..^3];
            }
            else
            {
                data = await File.ReadAllBytesAsync(module);
            }
            cpio.AddFile("lib/modules/" + name, data);
            insmods.Append("insmod /lib/modules/").Append(name).Append(" || echo \"").Append(GuestConsole.ResultPrefix)
                .Append(" insmod-failed ").Append(name).Append("\"\n");
        }
        foreach (var (name, data, executable) in _files)
        {
            Dir(Path.GetDirectoryName(name) ?? "");
            cpio.AddFile(name, data, executable ? 0x1ed : 0x1a4);
        }

        string init = $"""
            #!/bin/busybox sh
            /bin/busybox --install -s
            export PATH=/bin:/sbin:/usr/bin:/usr/sbin
            mount -t proc proc /proc
            mount -t sysfs sysfs /sys
            mount -t devtmpfs devtmpfs /dev
            {insmods}
            {scenario}
            echo "{GuestConsole.EndMarker}"
            poweroff -f

            """;
        cpio.AddFile("init", Encoding.UTF8.GetBytes(init.Replace("\r\n", "\n", StringComparison.Ordinal)), 0x1ed);
        await File.WriteAllBytesAsync(path, cpio.Finish());
    }
}
