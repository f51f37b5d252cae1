using System.Diagnostics;
using System.Globalization;
using Uvdpa.Interop.Tests;

namespace Uvdpa.Dpdk.Tests;

/// <summary>
/// What a DPDK test needs on this machine: dpdk-testpmd, root, and enough free 2 MiB hugepages on a mounted hugetlbfs.
/// <see cref="SkipReason"/> prepares the hugepages once (raising vm.nr_hugepages and mounting /dev/hugepages as
/// BENCHMARKS.md describes) and says why the tests cannot run, or null when they can.
/// </summary>
internal static class DpdkEnvironment
{
    /// <summary>Every testpmd these tests start uses this --file-prefix, so leftovers of killed runs can be found.</summary>
    public const string FilePrefix = "uvdpa-dpdk-tests";

    /// <summary>testpmd's EAL memory (-m, MiB), with --single-file-segments (one region in the vhost-user memory table).</summary>
    public const int MemoryMiB = 512;

    /// <summary>Hugepage memory the tests make sure is free: testpmd's plus headroom for EAL's own allocations.</summary>
    private const int RequiredMiB = MemoryMiB + 64;

    private const string DefaultMount = "/dev/hugepages";

    private static readonly Lazy<string?> s_skip = new(Prepare);

    /// <summary>dpdk-testpmd on PATH, or null.</summary>
    public static string? Testpmd { get; } = TestEnvironment.FindOnPath("dpdk-testpmd");

    /// <summary>Why DPDK tests cannot run here (a message starting with SKIPPED), or null when they can.</summary>
    public static string? SkipReason => s_skip.Value;

    /// <summary>What the preparation did (for test output).</summary>
    public static string PreparationLog { get; private set; } = "";

    private static string? Prepare()
    {
        if (Testpmd is null) return "SKIPPED: dpdk-testpmd is not installed (apt-get install dpdk)";
        if (!Environment.IsPrivilegedProcess) return "SKIPPED: DPDK tests need root (hugepages, hugetlbfs mount, testpmd's EAL)";
        var log = new List<string>();
        try
        {
            var (total, free, pageKiB) = ReadHugePages();
            if (pageKiB <= 0) return "SKIPPED: the kernel reports no hugepage size (no hugetlb support)";
            long needed = (RequiredMiB * 1024L + pageKiB - 1) / pageKiB;
            if (free < needed)
            {
                long want = total + (needed - free);
                File.WriteAllText("/proc/sys/vm/nr_hugepages", want.ToString(CultureInfo.InvariantCulture));
                log.Add($"vm.nr_hugepages {total} -> {want}");
                (total, free, _) = ReadHugePages();
                if (free < needed)
                    return $"SKIPPED: hugepages impossible: asked for {want} pages of {pageKiB} KiB, the kernel gave {total} with {free} free (need {needed} free)";
            }
            if (HugetlbfsMounts().Count == 0)
            {
                Directory.CreateDirectory(DefaultMount);
                using var mount = Process.Start(new ProcessStartInfo("mount") { ArgumentList = { "-t", "hugetlbfs", "nodev", DefaultMount }, UseShellExecute = false, RedirectStandardError = true })!;
                string err = mount.StandardError.ReadToEnd();
                mount.WaitForExit();
                if (mount.ExitCode != 0) return $"SKIPPED: hugepages impossible: mount -t hugetlbfs nodev {DefaultMount} failed ({mount.ExitCode}): {err.Trim()}";
                log.Add($"mounted hugetlbfs on {DefaultMount}");
            }
            log.Add($"hugepages: {free} of {total} free ({pageKiB} KiB); hugetlbfs at {string.Join(", ", HugetlbfsMounts())}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
        {
            return $"SKIPPED: hugepages impossible here: {e.Message}";
        }
        PreparationLog = string.Join("; ", log);
        return null;
    }

    /// <summary>
    /// Removes what a killed testpmd with <see cref="FilePrefix"/> left behind: its hugepage files on every hugetlbfs
    /// mount (they keep the pages reserved) and its runtime directory. Returns what was removed.
    /// </summary>
    public static IReadOnlyList<string> CleanLeftovers()
    {
        var removed = new List<string>();
        foreach (string mount in HugetlbfsMounts())
        {
            foreach (string file in Directory.EnumerateFiles(mount, FilePrefix + "*"))
            {
                File.Delete(file);
                removed.Add(file);
            }
        }
        string runtime = Path.Combine("/var/run/dpdk", FilePrefix);
        if (Directory.Exists(runtime))
        {
            Directory.Delete(runtime, recursive: true);
            removed.Add(runtime);
        }
        return removed;
    }

    private static (long Total, long Free, long PageKiB) ReadHugePages()
    {
        long total = 0, free = 0, size = 0;
        foreach (string line in File.ReadLines("/proc/meminfo"))
        {
            if (line.StartsWith("HugePages_Total:", StringComparison.Ordinal)) total = Number(line);
            else if (line.StartsWith("HugePages_Free:", StringComparison.Ordinal)) free = Number(line);
            else if (line.StartsWith("Hugepagesize:", StringComparison.Ordinal)) size = Number(line);
        }
        return (total, free, size);

        static long Number(string line) => long.Parse(line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }

    private static List<string> HugetlbfsMounts()
    {
        var mounts = new List<string>();
        foreach (string line in File.ReadLines("/proc/mounts"))
        {
            string[] f = line.Split(' ');
            if (f.Length > 2 && f[2] == "hugetlbfs") mounts.Add(f[1].Replace("\\040", " ", StringComparison.Ordinal));
        }
        return mounts;
    }
}

/// <summary>A test that runs dpdk-testpmd; skipped with the reason when <see cref="DpdkEnvironment.SkipReason"/> says so.</summary>
internal sealed class DpdkFactAttribute : FactAttribute
{
    public DpdkFactAttribute()
    {
        if (DpdkEnvironment.SkipReason is string reason) Skip = reason;
    }
}
