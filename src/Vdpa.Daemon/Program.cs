using System.Reflection;
using Microsoft.Extensions.Hosting;
using Uvdpa.Vdpa.Daemon;

DaemonCommand command;
try
{
    command = DaemonCommandLine.Parse(args);
}
catch (DaemonConfigurationException e)
{
    Console.Error.WriteLine($"vdpad: {e.Message}");
    return DaemonCommandLine.ExitUsage;
}
if (command.ShowHelp)
{
    Console.Out.WriteLine(DaemonCommandLine.Usage);
    return 0;
}
if (command.ShowVersion)
{
    Console.Out.WriteLine($"vdpad {typeof(VdpadHost).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?"}");
    return 0;
}

using IHost host = VdpadHost.Build(command.Options!);
try
{
    await host.StartAsync().ConfigureAwait(false);
}
catch (DaemonStartupException e)
{
    Console.Error.WriteLine($"vdpad: {e.Message}");
    return DaemonCommandLine.ExitFailure;
}
catch (Exception e) when (e is not OutOfMemoryException)
{
    Console.Error.WriteLine($"vdpad: start-up failed unexpectedly: {e}");
    return DaemonCommandLine.ExitFailure;
}
await host.WaitForShutdownAsync().ConfigureAwait(false);
return 0;
