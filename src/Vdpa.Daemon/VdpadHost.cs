using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Uvdpa.Vdpa.Core;

namespace Uvdpa.Vdpa.Daemon;

/// <summary>Builds vdpad's generic host: the bus, the daemon service, logging (journald format under systemd), SIGTERM/SIGINT handling.</summary>
public static class VdpadHost
{
    /// <summary>How long shutdown may take before the host gives up waiting.</summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Creates the host for <paramref name="options"/>; <paramref name="configureLogging"/> replaces the default console logging.</summary>
    public static IHost Build(DaemonOptions options, Action<ILoggingBuilder>? configureLogging = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true, // no appsettings.json, no environment or command-line configuration providers
            Args = [],
            ApplicationName = "vdpad",
            ContentRootPath = AppContext.BaseDirectory,
        });

        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        // A start-up failure is reported once, as one line, by Program ("vdpad: ..."), not again with a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        if (configureLogging is not null)
        {
            configureLogging(builder.Logging);
        }
        else if (Environment.GetEnvironmentVariable("JOURNAL_STREAM") is not null)
        {
            builder.Logging.AddSystemdConsole(o => o.IncludeScopes = false); // <N> priority prefixes for journald
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
                o.ColorBehavior = LoggerColorBehavior.Disabled;
            });
            builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        }

        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = ShutdownTimeout);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<VdpaBus>();
        builder.Services.AddSingleton<SystemdNotify>();
        builder.Services.AddSingleton<VdpadService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<VdpadService>());
        return builder.Build();
    }
}
