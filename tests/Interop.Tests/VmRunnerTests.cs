using Uvdpa.Tests.Shared;

namespace Uvdpa.Interop.Tests;

/// <summary>
/// The VM runner boots again only when the guest kernel panicked before the test script started. A stand-in for
/// run-in-vm (a shell script) plays the guest: it panics on the boots listed in PANIC_BOOTS, before or after the
/// script's first line as PANIC_AFTER_START says.
/// </summary>
public sealed class VmRunnerTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("uvdpa-vmrunner-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string FakeRunInVm(string panicBoots, bool panicAfterStart)
    {
        string path = Path.Combine(dir, "run-in-vm");
        File.WriteAllText(path, $$"""
            #!/bin/bash
            n=$(( $(cat {{dir}}/boots 2>/dev/null || echo 0) + 1 )); echo $n > {{dir}}/boots
            case " {{panicBoots}} " in
              *" $n "*)
                {{(panicAfterStart ? "bash -c \"$1\" >/dev/null" : ":")}}
                echo "run-in-vm: the guest did not finish; last console lines:" >&2
                echo "[    1.906161] Kernel panic - not syncing: Fatal exception in interrupt" >&2
                exit 255 ;;
            esac
            bash -c "$1"
            """);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    [Fact]
    public async Task APanicBeforeTheScriptStarts_BootsAgain_AndTheLaterBootsResultCounts()
    {
        var log = new List<string>();
        VmResult r = await VmRunner.RunAsync(FakeRunInVm("1 2", panicAfterStart: false), "echo hello; exit 3", 60, "6.12", log.Add);
        Assert.Equal(3, r.Boots);
        Assert.Equal(3, r.Exit);
        Assert.Equal("hello\n", r.Stdout);
        Assert.Equal(2, log.Count);
        Assert.Contains("Kernel panic", r.Stderr, StringComparison.Ordinal); // the earlier boots stay in the report
    }

    [Fact]
    public async Task PanicsOnEveryBoot_StopAfterMaxBoots_WithTheFailure()
    {
        VmResult r = await VmRunner.RunAsync(FakeRunInVm("1 2 3 4", panicAfterStart: false), "echo hello", 60, "6.12", _ => { });
        Assert.Equal(VmRunner.MaxBoots, r.Boots);
        Assert.Equal(255, r.Exit);
        Assert.Equal(VmRunner.MaxBoots.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(Path.Combine(dir, "boots")).Trim());
    }

    [Fact]
    public async Task APanicAfterTheScriptStarted_IsTheResult_NotRetried()
    {
        VmResult r = await VmRunner.RunAsync(FakeRunInVm("1", panicAfterStart: true), "echo hello", 60, "6.12", _ => { });
        Assert.Equal(1, r.Boots);
        Assert.Equal(255, r.Exit);
    }

    [Fact]
    public void OnlyAPanicWithoutTheStartMarker_IsABootPanic()
    {
        const string panic = "run-in-vm: the guest did not finish; last console lines:\n[ 1.9] Kernel panic - not syncing: x\n";
        Assert.True(VmRunner.IsBootPanic(255, panic));
        Assert.False(VmRunner.IsBootPanic(255, VmRunner.StartedMarker + "\n" + panic));
        Assert.False(VmRunner.IsBootPanic(1, panic));
        Assert.False(VmRunner.IsBootPanic(255, "run-in-vm: the guest did not finish; last console lines:\n[ 600] timeout\n"));
    }
}
