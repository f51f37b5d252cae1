using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Uvdpa.Vdpa.Daemon;

/// <summary>Writes byte arrays (in the state file: only MAC addresses) as "02:00:00:00:00:01" and reads them back.</summary>
internal sealed class MacAddressJsonConverter : JsonConverter<byte[]>
{
    public override byte[] Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        string s = reader.GetString() ?? throw new JsonException("expected a MAC address string");
        string[] parts = s.Split(':');
        var bytes = new byte[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (parts[i].Length != 2 || !byte.TryParse(parts[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out bytes[i]))
                throw new JsonException($"'{s}' is not a colon-separated hex byte string");
        }
        return bytes;
    }

    public override void Write(Utf8JsonWriter writer, byte[] value, JsonSerializerOptions options)
        => writer.WriteStringValue(string.Join(':', value.Select(b => b.ToString("x2", CultureInfo.InvariantCulture))));
}
