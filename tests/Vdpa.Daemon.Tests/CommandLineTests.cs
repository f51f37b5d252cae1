namespace Uvdpa.Vdpa.Daemon.Tests;

public sealed class CommandLineTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    private static readonly Func<string, string?> NoEnvironment = _ => null;

    public void Dispose() => _dir.Dispose();

    private static DaemonOptions Parse(params string[] args) => DaemonCommandLine.Parse(args, NoEnvironment).Options!;

    private static string Error(params string[] args)
        => Assert.Throws<DaemonConfigurationException>(() => DaemonCommandLine.Parse(args, NoEnvironment)).Message;

    [Fact]
    public void Defaults_AreTheDocumentedOnes()
    {
        DaemonOptions o = Parse();
        Assert.Equal("/run/uvdpa/vdpad.sock", o.SocketPath);
        Assert.Equal((UnixFileMode)Convert.ToInt32("666", 8), o.SocketMode);
        Assert.Null(o.SocketGroup);
        Assert.Empty(o.AdminGroups);
        Assert.Null(o.StateFile);
        Assert.Equal(["vdpasim_net", "vdpasim_blk"], o.ManagementDevices);
        Assert.Equal(["virtio_vdpa"], o.Drivers);
        Assert.Null(o.VhostUserDirectory);
    }

    [Fact]
    public void SocketPath_CommandLineBeatsEnvironmentBeatsDefault()
    {
        Func<string, string?> env = n => n == "UVDPA_SOCKET" ? "/tmp/from-env.sock" : null;
        Assert.Equal("/tmp/from-env.sock", DaemonCommandLine.Parse([], env).Options!.SocketPath);
        Assert.Equal("/tmp/cli.sock", DaemonCommandLine.Parse(["--socket", "/tmp/cli.sock"], env).Options!.SocketPath);
        Assert.Equal("/tmp/eq.sock", DaemonCommandLine.Parse(["--socket=/tmp/eq.sock"], env).Options!.SocketPath);
    }

    [Fact]
    public void AllFlags_AreParsed()
    {
        DaemonOptions o = Parse("--socket", "/tmp/a.sock", "--socket-mode", "0660", "--socket-group", "0", "--admin-group", "root",
            "--admin-group", "4242,4243", "--state-file", "/tmp/state.json", "--mgmtdev", "vdpasim_blk,vdpasim_net",
            "--drivers", "virtio_vdpa", "--vhost-user-dir", "/tmp/vhost");
        Assert.Equal("/tmp/a.sock", o.SocketPath);
        Assert.Equal((UnixFileMode)Convert.ToInt32("660", 8), o.SocketMode);
        Assert.Equal("0", o.SocketGroup);
        Assert.Equal(["root", "4242", "4243"], o.AdminGroups);
        Assert.Equal("/tmp/state.json", o.StateFile);
        Assert.Equal(["vdpasim_blk", "vdpasim_net"], o.ManagementDevices);
        Assert.Equal(["virtio_vdpa"], o.Drivers);
        Assert.Equal("/tmp/vhost", o.VhostUserDirectory);
    }

    [Fact]
    public void EmptyLists_MeanNone()
    {
        DaemonOptions o = Parse("--mgmtdev", "", "--drivers=");
        Assert.Empty(o.ManagementDevices);
        Assert.Empty(o.Drivers);
    }

    [Fact]
    public void RelativePaths_AreMadeAbsolute()
    {
        DaemonOptions o = Parse("--socket", "rel.sock", "--state-file", "s.json");
        Assert.Equal(Path.Combine(Directory.GetCurrentDirectory(), "rel.sock"), o.SocketPath);
        Assert.Equal(Path.Combine(Directory.GetCurrentDirectory(), "s.json"), o.StateFile);
    }

    [Theory]
    [InlineData("--bogus", "unknown option '--bogus'")]
    [InlineData("--socket", "option '--socket' needs a value")]
    [InlineData("stray", "unexpected argument 'stray'")]
    public void BadArguments_AreRejectedClearly(string arg, string expected)
        => Assert.Contains(expected, Error(arg));

    [Theory]
    [InlineData("888")]
    [InlineData("01777")]
    [InlineData("rw")]
    [InlineData("")]
    public void BadSocketMode_IsRejected(string mode) => Assert.Contains("mode", Error("--socket-mode", mode));

    [Fact]
    public void UnknownModulesAndGroups_AreRejectedWithTheKnownNames()
    {
        Assert.Contains("unknown management device 'vdpasim_foo' (known: vdpasim_net, vdpasim_blk, vhost_user_fe)", Error("--mgmtdev", "vdpasim_foo"));
        Assert.Contains("unknown driver 'vhost_foo' (known: virtio_vdpa, vhost_vdpa)", Error("--drivers", "vhost_foo"));
        Assert.Contains("listed twice", Error("--mgmtdev", "vdpasim_net,vdpasim_net"));
        Assert.Contains("unknown group 'no-such-group-uvdpa'", Error("--admin-group", "no-such-group-uvdpa"));
        Assert.Contains("unknown group", Error("--socket-group", "no-such-group-uvdpa"));
    }

    [Fact]
    public void HelpAndVersion()
    {
        Assert.True(DaemonCommandLine.Parse(["--help"], NoEnvironment).ShowHelp);
        Assert.True(DaemonCommandLine.Parse(["--version"], NoEnvironment).ShowVersion);
        foreach (string flag in new[] { "--socket", "--socket-mode", "--socket-group", "--admin-group", "--state-file", "--mgmtdev", "--drivers", "--vhost-user-dir", "--config" })
            Assert.Contains(flag + " ", DaemonCommandLine.Usage);
    }

    [Fact]
    public void ConfigFile_SetsEverything_RelativeToItsDirectory()
    {
        string path = _dir.File("vdpad.json");
        File.WriteAllText(path, """
            {
              // comments are allowed
              "socket": "run/vdpad.sock",
              "socketMode": "0600",
              "socketGroup": "0",
              "adminGroups": ["root", "4242"],
              "stateFile": "state/devices.json",
              "managementDevices": ["vdpasim_net"],
              "drivers": [],
              "vhostUserDirectory": "/tmp/vhost-user",
              "simulator": { "batchMapping": false, "maxIotlbEntries": 16, "netBatch": 5, "blkBatch": 5, "blkSharedBackend": true },
            }
            """);
        DaemonOptions o = DaemonCommandLine.Parse(["--config", path], n => n == "UVDPA_SOCKET" ? "/tmp/env.sock" : null).Options!;
        Assert.Equal(_dir.File("run/vdpad.sock"), o.SocketPath); // the file beats $UVDPA_SOCKET
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, o.SocketMode);
        Assert.Equal("0", o.SocketGroup);
        Assert.Equal(["root", "4242"], o.AdminGroups);
        Assert.Equal(_dir.File("state/devices.json"), o.StateFile);
        Assert.Equal(["vdpasim_net"], o.ManagementDevices);
        Assert.Empty(o.Drivers);
        Assert.Equal("/tmp/vhost-user", o.VhostUserDirectory);
        Assert.False(o.Simulator.BatchMapping);
        Assert.Equal(16, o.Simulator.MaxIotlbEntries);
        Assert.Equal(5, o.Simulator.NetBatch);
        Assert.Equal(5, o.Simulator.BlkBatch);
        Assert.True(o.Simulator.BlkSharedBackend);
        Assert.Equal(path, o.ConfigFile);
    }

    [Fact]
    public void CommandLine_BeatsConfigFile()
    {
        string path = _dir.File("vdpad.json");
        File.WriteAllText(path, """{ "socket": "/tmp/file.sock", "managementDevices": ["vdpasim_net"], "adminGroups": ["4242"] }""");
        DaemonOptions o = Parse("--config", path, "--socket", "/tmp/cli.sock", "--mgmtdev", "vdpasim_blk", "--admin-group", "0");
        Assert.Equal("/tmp/cli.sock", o.SocketPath);
        Assert.Equal(["vdpasim_blk"], o.ManagementDevices); // a list on the command line replaces the file's
        Assert.Equal(["0"], o.AdminGroups);
    }

    [Fact]
    public void ConfigFile_Errors_NameTheFile()
    {
        string path = _dir.File("bad.json");
        File.WriteAllText(path, """{ "sockett": "/tmp/x.sock" }""");
        string e = Error("--config", path);
        Assert.Contains(path, e);
        Assert.Contains("sockett", e);

        File.WriteAllText(path, "{ not json");
        Assert.Contains(path, Error("--config", path));

        File.WriteAllText(path, """{ "socketMode": "0999" }""");
        Assert.Contains("0999", Error("--config", path));

        File.WriteAllText(path, """{ "simulator": { "netBatch": 0 } }""");
        Assert.Contains("netBatch", Error("--config", path));

        Assert.Contains("cannot read config file", Error("--config", _dir.File("missing.json")));
    }

    [Fact]
    public void ExampleConfig_InPackaging_Parses()
    {
        string example = Path.Combine(TestEnvironment.RepositoryRoot, "packaging", "vdpad.json");
        DaemonOptions o = DaemonCommandLine.Parse(["--config", example], NoEnvironment).Options!;
        Assert.Equal("/run/uvdpa/vdpad.sock", o.SocketPath);
        Assert.Equal(["vdpasim_net", "vdpasim_blk"], o.ManagementDevices);
    }
}
