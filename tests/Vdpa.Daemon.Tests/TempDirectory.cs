namespace Uvdpa.Vdpa.Daemon.Tests;

/// <summary>A fresh directory under /tmp (short paths: sun_path holds 107 bytes), removed on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = Directory.CreateTempSubdirectory("vdpad-").FullName;
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Lets other users traverse the directory (the unprivileged-client tests).</summary>
    public void MakeTraversable() => System.IO.File.SetUnixFileMode(Path,
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
