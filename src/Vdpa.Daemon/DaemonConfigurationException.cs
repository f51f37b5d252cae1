namespace Uvdpa.Vdpa.Daemon;

/// <summary>The command line or config file is invalid (exit code 2). The message is meant for the user.</summary>
public sealed class DaemonConfigurationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DaemonConfigurationException(string message) : base(message) { }
}

/// <summary>vdpad cannot start (exit code 1): socket in use, state file unreadable, a module failed. The message is meant for the user.</summary>
public sealed class DaemonStartupException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DaemonStartupException(string message, Exception? inner = null) : base(message, inner) { }
}
