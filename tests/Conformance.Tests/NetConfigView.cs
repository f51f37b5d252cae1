using System.Buffers.Binary;
using System.Text.Json;
using Uvdpa.Conformance.Tests.Golden;
using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Abi;

namespace Uvdpa.Conformance.Tests;

/// <summary>
/// <c>vdpa -j dev config show</c> for a net device (vdpa_dev_net_config_fill): the config space read through the core
/// (which negotiates 0 first when features were never set, as vdpa_get_config_unlocked does), plus the negotiated
/// features when FEATURES_OK is set.
/// </summary>
internal static class NetConfigView
{
    public static void AssertMatches(JsonElement golden, VdpaDevice device)
    {
        var config = new byte[VirtioNetConfig.Size];
        device.GetConfig(0, config);
        string context = $"{device.Name} config {Convert.ToHexString(config)}";
        if (golden.TryGetProperty("mac", out var mac))
            Assert.True(mac.GetString() == Iproute2.Mac(config.AsSpan(VirtioNetConfig.MacOffset, 6)), $"{context}: mac kernel {mac}");
        ushort status = BinaryPrimitives.ReadUInt16LittleEndian(config.AsSpan(VirtioNetConfig.StatusOffset));
        // iproute2 6.1 prints the keys "link " and "link_announce " with a trailing space.
        if (golden.TryGetProperty("link ", out var link) || golden.TryGetProperty("link", out link))
            Assert.True(link.GetString() == ((status & VirtioNetConfig.StatusLinkUp) != 0 ? "up" : "down"), $"{context}: link kernel {link}");
        if (golden.TryGetProperty("link_announce ", out var announce) || golden.TryGetProperty("link_announce", out announce))
            Assert.True(announce.GetBoolean() == ((status & VirtioNetConfig.StatusAnnounce) != 0), $"{context}: link_announce kernel {announce}");
        if (golden.TryGetProperty("mtu", out var mtu))
            Assert.True(mtu.GetUInt16() == BinaryPrimitives.ReadUInt16LittleEndian(config.AsSpan(VirtioNetConfig.MtuOffset)), $"{context}: mtu kernel {mtu}");
        if (golden.TryGetProperty("max_vq_pairs", out var pairs))
            Assert.True(pairs.GetUInt16() == BinaryPrimitives.ReadUInt16LittleEndian(config.AsSpan(VirtioNetConfig.MaxVirtqueuePairsOffset)), $"{context}: max_vq_pairs kernel {pairs}");

        bool featuresOk = ((DeviceStatus)device.GetStatus()).HasFlag(DeviceStatus.FeaturesOk);
        if (golden.TryGetProperty("negotiated_features", out var negotiated))
        {
            Assert.True(featuresOk, $"{device.Name}: the kernel shows negotiated features, our device is not FEATURES_OK");
            ulong kernel = Iproute2.FeatureBits(negotiated, VirtioDeviceId.Net);
            ulong ours = device.Ops.GetDriverFeatures();
            Assert.True(kernel == ours, $"{device.Name}: negotiated kernel 0x{kernel:x} ours 0x{ours:x}");
        }
        else
        {
            Assert.False(featuresOk, $"{device.Name}: the kernel shows no negotiated features, our device is FEATURES_OK");
        }
    }
}
