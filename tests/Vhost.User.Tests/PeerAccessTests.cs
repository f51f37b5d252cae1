using System.Diagnostics;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vhost.User.Backend;
using Uvdpa.Vhost.User.Tests.Infrastructure;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vhost.User.Tests;

/// <summary>A socket is read/write access to a disk: its mode and group, and the peer's uid (SO_PEERCRED), gate it.</summary>
public sealed class PeerAccessTests
{
    private const uint Nobody = 65534;

    /// <summary>Connects as uid/gid 65534 (setpriv), sends GET_FEATURES and reports what came back.</summary>
    private const string Client = """
        import socket, struct, sys
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(15)
        try:
            s.connect(sys.argv[1])
        except OSError as e:
            print("connect-error", e.errno); sys.exit(0)
        data = b""
        try:
            s.sendall(struct.pack("=III", 1, 1, 0))
            while len(data) < 20:
                chunk = s.recv(20 - len(data))
                if not chunk: break
                data += chunk
        except (BrokenPipeError, ConnectionResetError):
            pass
        except OSError as e:
            print("io-error", e.errno); sys.exit(0)
        print("reply", len(data) if data else "closed")
        """;

    private static string RunAsNobody(string socketPath)
    {
        var psi = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { $"--reuid={Nobody}", $"--regid={Nobody}", "--clear-groups", PeerFactAttribute.Python, "-c", Client, socketPath }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(30_000), "the unprivileged client did not finish");
        string output = stdout.Result.Trim();
        Assert.True(p.ExitCode == 0, $"client exit {p.ExitCode}: stdout '{output}', stderr '{stderr.Result}'");
        return output;
    }

    private static BindOptions Options(params (string Key, string Value)[] values) => new(values.Select(v => new KeyValuePair<string, string>(v.Key, v.Value)));

    [PeerFact]
    public void UnprivilegedPeer_IsRefused_ThenRootStillWorks()
    {
        using var f = DeviceFixture.Net(Options((VhostUserDriverOptions.ModeKey, "666")));
        Assert.Equal("reply closed", RunAsNobody(f.SocketPath)); // accepted by the kernel, closed by us without a byte
        Assert.Equal($"uid {Nobody} is not allowed", f.WaitRefused());
        using var fe = f.Connect();
        fe.Negotiate(1UL << Virtio.Abi.VirtioFeatures.Version1);
        fe.SetupRing(0);
    }

    [PeerFact]
    public void AllowedUid_IsServed()
    {
        using var f = DeviceFixture.Net(Options((VhostUserDriverOptions.ModeKey, "666"), (VhostUserDriverOptions.AllowUidKey, $"1000,{Nobody}")));
        Assert.Equal("reply 20", RunAsNobody(f.SocketPath)); // the GET_FEATURES reply: 12-byte header + u64
        Assert.Null(f.WaitSessionEnded());
    }

    [PeerFact]
    public void DefaultMode0600_OtherUsersCannotConnect()
    {
        using var f = DeviceFixture.Net();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f.SocketPath));
        Assert.Equal("connect-error 13", RunAsNobody(f.SocketPath)); // EACCES
    }

    [Fact]
    public void ModeAndGroupOptions_AreApplied()
    {
        using var f = DeviceFixture.Net(Options((VhostUserDriverOptions.ModeKey, "0660"), (VhostUserDriverOptions.GroupKey, $"{Nobody}")));
        Assert.True(UnixFile.TryGetStatus(f.SocketPath, out var st));
        Assert.True(st.IsSocket);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, st.Permissions);
        Assert.Equal(Nobody, st.GroupId);
    }

    [Theory]
    [InlineData(VhostUserDriverOptions.ModeKey, "9")]
    [InlineData(VhostUserDriverOptions.ModeKey, "1777")]
    [InlineData(VhostUserDriverOptions.GroupKey, "wheel")]
    [InlineData(VhostUserDriverOptions.AllowUidKey, "-1")]
    [InlineData(VhostUserDriverOptions.DirectoryKey, "relative/dir")]
    [InlineData("vhost-user-owner", "0")]
    public void BadOption_IsEinval(string key, string value)
    {
        var e = Assert.Throws<VdpaException>(() => VhostUserDriverOptions.Parse(Options((key, value))));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains(key == "vhost-user-owner" ? "unknown option" : key, e.Message);
    }
}

/// <summary>Needs root (to drop to another uid), setpriv and python3 for the foreign client; skipped, saying why, otherwise.</summary>
internal sealed class PeerFactAttribute : FactAttribute
{
    public PeerFactAttribute()
    {
        if (ProcessIdentity.EffectiveUserId != 0) Skip = "SKIPPED: needs root to run a client under uid 65534 (setpriv --reuid)";
        else if (!OnPath("setpriv")) Skip = "SKIPPED: setpriv is missing (apt-get install util-linux)";
        else if (!File.Exists(Python)) Skip = $"SKIPPED: {Python} is missing for the foreign-uid client (apt-get install python3-minimal)";
    }

    /// <summary>The system python (a per-user shim such as pyenv's under /root is not executable by uid 65534).</summary>
    public const string Python = "/usr/bin/python3";

    private static bool OnPath(string name)
        => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, name)));
}
