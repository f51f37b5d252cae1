using Uvdpa.Interop.Tests;

namespace Uvdpa.Guest.Tests;

/// <summary>
/// What a guest test needs from the host: QEMU, a Debian kernel (<c>/boot/vmlinuz-VERSION</c>) with its virtio modules
/// under <c>/lib/modules/VERSION</c>, a static busybox, and gcc with a static libc for the guest helpers. CI installs
/// all of them (scripts/setup: qemu-system-x86, linux-image-amd64, busybox-static, gcc, libc6-dev).
/// </summary>
internal static class GuestEnvironment
{
    /// <summary>
    /// The virtio modules in load order (each needs only those before it): the PCI transport, then the net driver
    /// with its failover dependencies, then the blk driver.
    /// </summary>
    public static readonly string[] ModuleLoadOrder =
    [
        "drivers/virtio/virtio_ring", "drivers/virtio/virtio", "drivers/virtio/virtio_pci_legacy_dev",
        "drivers/virtio/virtio_pci_modern_dev", "drivers/virtio/virtio_pci", "net/core/failover",
        "drivers/net/net_failover", "drivers/net/virtio_net", "drivers/block/virtio_blk",
    ];

    private static readonly Lazy<(GuestKernel? Kernel, string? Missing)> s_probe = new(Probe);

    /// <summary>The kernel to boot, or null (then <see cref="MissingReason"/> says why).</summary>
    public static GuestKernel? Kernel => s_probe.Value.Kernel;

    /// <summary>Why guest tests cannot run here, or null.</summary>
    public static string? MissingReason => s_probe.Value.Missing;

    public static string Qemu => TestEnvironment.FindOnPath("qemu-system-x86_64")!;

    private static (GuestKernel?, string?) Probe()
    {
        if (TestEnvironment.FindOnPath("qemu-system-x86_64") is null)
            return (null, "qemu-system-x86_64 is missing (apt-get install qemu-system-x86)");
        string? busybox = new[] { "/bin/busybox", "/usr/bin/busybox" }.FirstOrDefault(IsStaticElf);
        if (busybox is null)
            return (null, "no statically linked busybox at /bin/busybox (apt-get install busybox-static)");
        if (TestEnvironment.FindOnPath("gcc") is null)
            return (null, "gcc is missing: the guest helpers are compiled at test time (apt-get install gcc libc6-dev)");
        if (!File.Exists("/usr/lib/x86_64-linux-gnu/libc.a"))
            return (null, "no static libc (/usr/lib/x86_64-linux-gnu/libc.a) for the guest helpers (apt-get install libc6-dev)");

        var reasons = new List<string>();
        var kernels = Directory.Exists("/boot") ? Directory.GetFiles("/boot", "vmlinuz-*") : [];
        // Newest first, numeric parts compared as numbers (6.1.0-56 after 6.1.0-9).
        foreach (string image in kernels.OrderByDescending(k => VersionKey(Path.GetFileName(k)["vmlinuz-".Length..])))
        {
            string version = Path.GetFileName(image)["vmlinuz-".Length..];
            string modules = Path.Combine("/lib/modules", version, "kernel");
            var found = new List<string>();
            string? missing = null;
            foreach (string m in ModuleLoadOrder)
            {
                string? path = new[] { ".ko", ".ko.xz" }.Select(ext => Path.Combine(modules, m + ext)).FirstOrDefault(File.Exists);
                if (path is null)
                {
                    missing = m + ".ko";
                    break;
                }
                found.Add(path);
            }
            if (missing is not null)
            {
                reasons.Add($"{image}: no {missing} under {modules}");
                continue;
            }
            if (found.Any(p => p.EndsWith(".xz", StringComparison.Ordinal)) && TestEnvironment.FindOnPath("xz") is null)
            {
                reasons.Add($"{image}: its modules are .ko.xz and xz is missing (apt-get install xz-utils)");
                continue;
            }
            try
            {
                using (File.OpenRead(image)) { }
            }
            catch (UnauthorizedAccessException)
            {
                reasons.Add($"{image} is not readable by this user");
                continue;
            }
            return (new GuestKernel(version, image, found, busybox), null);
        }
        return (null, kernels.Length == 0
            ? "no /boot/vmlinuz-* (apt-get install linux-image-amd64)"
            : "no usable kernel: " + string.Join("; ", reasons));
    }

    private static bool IsStaticElf(string path)
    {
        if (!File.Exists(path)) return false;
        // A static ELF has no PT_INTERP program header; a cheap test is the absence of the loader's path.
        byte[] bytes = File.ReadAllBytes(path);
        return bytes.Length > 4 && bytes[0] == 0x7f && bytes[1] == (byte)'E' && bytes[2] == (byte)'L' && bytes[3] == (byte)'F'
            && bytes.AsSpan().IndexOf("/lib64/ld-linux"u8) < 0;
    }

    private static string VersionKey(string version)
    {
        // "6.1.0-56-amd64" -> zero-padded numeric parts so that 56 sorts after 9.
        var parts = version.Split('.', '-');
        return string.Join('.', parts.Select(p => int.TryParse(p, out int n) ? n.ToString("D8", System.Globalization.CultureInfo.InvariantCulture) : p));
    }
}

/// <summary>A bootable kernel image with its virtio module files (in <see cref="GuestEnvironment.ModuleLoadOrder"/>) and busybox.</summary>
internal sealed record GuestKernel(string Version, string Image, IReadOnlyList<string> Modules, string Busybox);

/// <summary>Runs only where a guest can boot (<see cref="GuestEnvironment"/>); skipped with the reason otherwise.</summary>
internal sealed class GuestFactAttribute : FactAttribute
{
    public GuestFactAttribute()
    {
        if (GuestEnvironment.MissingReason is string why) Skip = "SKIPPED: " + why;
    }
}
