using System.Globalization;
using System.Text.Json;
using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Abi;

namespace Uvdpa.Conformance.Tests.Golden;

/// <summary>
/// How iproute2-6.1.0's <c>vdpa</c> tool and the kernel's sysfs print things, turned back into numbers: device type and
/// class names, feature names (vdpa/vdpa.c tables), MAC strings, the sysfs feature bit string, <c>strerror</c> texts.
/// </summary>
internal static class Iproute2
{
    /// <summary><c>dev show</c> "type": iproute2's virtio id names.</summary>
    public static VirtioDeviceId DeviceType(string name) => name switch
    {
        "network" => VirtioDeviceId.Net,
        "block" => VirtioDeviceId.Block,
        _ => throw new InvalidDataException($"unknown vdpa device type '{name}'"),
    };

    /// <summary><c>mgmtdev show</c> "supported_classes": iproute2's class names.</summary>
    public static VirtioDeviceId ClassName(string name) => name switch
    {
        "net" => VirtioDeviceId.Net,
        "block" => VirtioDeviceId.Block,
        _ => throw new InvalidDataException($"unknown vdpa class '{name}'"),
    };

    /// <summary>Feature names (as printed for a device of class <paramref name="deviceId"/>) back to a bit mask; "bit_N" too.</summary>
    public static ulong FeatureBits(IEnumerable<string> names, VirtioDeviceId deviceId)
    {
        ulong mask = 0;
        foreach (string name in names)
        {
            int bit = -1;
            if (name.StartsWith("bit_", StringComparison.Ordinal))
            {
                bit = int.Parse(name.AsSpan(4), CultureInfo.InvariantCulture);
            }
            else
            {
                for (int b = 0; b < 64 && bit < 0; b++)
                {
                    if (FeatureNames.Name(b, deviceId) == name) bit = b;
                }
            }
            if (bit < 0) throw new InvalidDataException($"unknown feature name '{name}' for class {deviceId}");
            mask |= 1UL << bit;
        }
        return mask;
    }

    /// <summary>A JSON array of feature names to a mask.</summary>
    public static ulong FeatureBits(JsonElement array, VirtioDeviceId deviceId)
        => FeatureBits(array.EnumerateArray().Select(e => e.GetString()!), deviceId);

    /// <summary>/sys/bus/virtio/devices/virtioN/features: character i is bit i.</summary>
    public static ulong SysfsFeatures(string bits)
    {
        ulong mask = 0;
        for (int i = 0; i < bits.Length; i++)
        {
            if (bits[i] == '1') mask |= 1UL << i;
            else if (bits[i] != '0') throw new InvalidDataException($"bad sysfs feature string '{bits}'");
        }
        return mask;
    }

    /// <summary>"02:00:00:00:00:01" to bytes.</summary>
    public static byte[] Mac(string text)
    {
        var parts = text.Split(':');
        if (parts.Length != 6) throw new InvalidDataException($"bad MAC '{text}'");
        return [.. parts.Select(p => byte.Parse(p, NumberStyles.HexNumber, CultureInfo.InvariantCulture))];
    }

    /// <summary>Bytes to "02:00:00:00:00:01".</summary>
    public static string Mac(ReadOnlySpan<byte> mac) => string.Join(':', mac.ToArray().Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));

    /// <summary>"0x1f" or "31".</summary>
    public static ulong Number(string text)
        => text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.Parse(text.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : ulong.Parse(text, CultureInfo.InvariantCulture);

    /// <summary>iproute2's "kernel answers: &lt;strerror&gt;" to the errno (0 when <paramref name="stderr"/> has no such line).</summary>
    public static int KernelAnswer(IEnumerable<string> stderr)
    {
        foreach (string line in stderr)
        {
            const string prefix = "kernel answers: ";
            if (!line.StartsWith(prefix, StringComparison.Ordinal)) continue;
            return line[prefix.Length..] switch
            {
                "Invalid argument" => Errno.EINVAL,
                "Operation not supported" => Errno.EOPNOTSUPP,
                "Resource temporarily unavailable" => Errno.EAGAIN,
                "No such device" => Errno.ENODEV,
                var s => throw new InvalidDataException($"unmapped strerror '{s}'"),
            };
        }
        return 0;
    }
}
