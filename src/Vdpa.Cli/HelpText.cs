namespace Uvdpa.Vdpa.Cli;

/// <summary>The usage texts of iproute2 7.1's vdpa, byte for byte (all go to stderr).</summary>
internal static class HelpText
{
    /// <summary>help().</summary>
    public const string Main =
        "Usage: vdpa [ OPTIONS ] OBJECT { COMMAND | help }\n" +
        "where  OBJECT := { mgmtdev | dev }\n" +
        "       OPTIONS := { -V[ersion] | -n[o-nice-names] | -j[son] | -p[retty] }\n";

    /// <summary>cmd_mgmtdev_help().</summary>
    public const string Mgmtdev = "Usage: vdpa mgmtdev show [ DEV ]\n";

    /// <summary>cmd_dev_help() (7.1: with device_features; dev set is not listed).</summary>
    public const string Dev =
        "Usage: vdpa dev show [ DEV ]\n" +
        "       vdpa dev add name NAME mgmtdev MANAGEMENTDEV [ device_features DEVICE_FEATURES]\n" +
        "                                                    [ mac MACADDR ] [ mtu MTU ]\n" +
        "                                                    [ max_vqp MAX_VQ_PAIRS ]\n" +
        "       vdpa dev del DEV\n" +
        "Usage: vdpa dev config COMMAND [ OPTIONS ]\n" +
        "Usage: vdpa dev vstats COMMAND\n";

    /// <summary>cmd_dev_config_help().</summary>
    public const string DevConfig = "Usage: vdpa dev config show [ DEV ]\n";

    /// <summary>cmd_dev_vstats_help().</summary>
    public const string DevVstats = "Usage: vdpa dev vstats show DEV [qidx QUEUE_INDEX]\n";

    /// <summary>The uvdpa extension object's usage (ours; iproute2 has no such object).</summary>
    public const string Uvdpa =
        "Usage: vdpa uvdpa dev show [ DEV ]\n" +
        "       vdpa uvdpa dev add name NAME mgmtdev MANAGEMENTDEV [ mac MACADDR ] [ mtu MTU ]\n" +
        "                                [ max_vqp MAX_VQ_PAIRS ] [ device_features DEVICE_FEATURES ]\n" +
        "                                [ driver DRIVER ] [ driver-opt KEY=VALUE ]... [ opt KEY=VALUE ]...\n" +
        "       vdpa uvdpa dev driver DEV [ DRIVER ] [ driver-opt KEY=VALUE ]...\n" +
        "       vdpa uvdpa dev counters DEV [ qidx QUEUE_INDEX ]\n" +
        "       vdpa uvdpa dev reset DEV\n" +
        "       vdpa uvdpa dev traffic DEV [ count COUNT ] [ size SIZE[,SIZE...] ]\n" +
        "                                  [ dst { mac | broadcast | both } ] [ timeout MS ]\n" +
        "Needs vdpad (the kernel has no \"uvdpa\" family).\n";
}
