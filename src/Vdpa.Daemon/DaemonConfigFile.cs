using System.Text.Json;
using System.Text.Json.Serialization;

namespace Uvdpa.Vdpa.Daemon;

/// <summary>
/// The JSON config file (<c>--config FILE</c>): the same settings as the command line, camelCase keys. Unknown keys
/// are an error, so a typo never silently falls back to a default. Relative paths are relative to the file.
/// </summary>
internal sealed class DaemonConfigFile
{
    public string? Socket { get; set; }
    public string? SocketMode { get; set; }
    public string? SocketGroup { get; set; }
    public List<string>? AdminGroups { get; set; }
    public string? StateFile { get; set; }
    public List<string>? ManagementDevices { get; set; }
    public List<string>? Drivers { get; set; }
    public string? VhostUserDirectory { get; set; }
    public SimulatorSection? Simulator { get; set; }

    /// <summary>The simulators' module parameters.</summary>
    internal sealed class SimulatorSection
    {
        public bool? BatchMapping { get; set; }
        public int? MaxIotlbEntries { get; set; }
        public int? NetBatch { get; set; }
        public int? BlkBatch { get; set; }
        public bool? BlkSharedBackend { get; set; }
    }

    /// <summary>Reads and parses <paramref name="path"/>; <see cref="DaemonConfigurationException"/> on any problem.</summary>
    public static DaemonConfigFile Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DaemonConfigurationException($"cannot read config file {path}: {e.Message}");
        }
        try
        {
            return JsonSerializer.Deserialize(text, DaemonJsonContext.Default.DaemonConfigFile)
                ?? throw new DaemonConfigurationException($"config file {path}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new DaemonConfigurationException($"config file {path}: {e.Message}");
        }
    }
}

/// <summary>Source-generated (de)serialisation of the config file and the state file.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    WriteIndented = true,
    Converters = [typeof(MacAddressJsonConverter)])]
[JsonSerializable(typeof(DaemonConfigFile))]
[JsonSerializable(typeof(StateFileDocument))]
internal sealed partial class DaemonJsonContext : JsonSerializerContext;
