using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Uvdpa.Vdpa.Daemon.Tests;

/// <summary>Keeps every log line of an in-process daemon, to assert on and to print when a test fails.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<(LogLevel Level, EventId Id, string Text)> _lines = new();

    public IReadOnlyList<(LogLevel Level, EventId Id, string Text)> Lines => [.. _lines];

    public string Dump() => string.Join('\n', _lines.Select(l => $"{l.Level} [{l.Id.Id}] {l.Text}"));

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => owner._lines.Enqueue((logLevel, eventId, $"{category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception)}"));
    }
}
