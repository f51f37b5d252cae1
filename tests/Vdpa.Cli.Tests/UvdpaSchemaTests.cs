using Uvdpa.Vdpa.Management;
using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Cli.Tests;

/// <summary>
/// The client's copy of the "uvdpa" schema (Vdpa.Netlink UvdpaGenl*, the only one the CLI may see) against the
/// server's (Vdpa.Management Uvdpa*): any drift in a name or number fails here.
/// </summary>
public sealed class UvdpaSchemaTests
{
    private static List<(string Name, ulong Value)> Members<T>() where T : struct, Enum =>
        [.. Enum.GetValues<T>().Select(v => (v.ToString(), Convert.ToUInt64(v, System.Globalization.CultureInfo.InvariantCulture)))];

    [Fact]
    public void Commands_match_the_server() => Assert.Equal(Members<UvdpaCommand>(), Members<UvdpaGenlCommand>());

    [Fact]
    public void Attributes_match_the_server() => Assert.Equal(Members<UvdpaAttr>(), Members<UvdpaGenlAttr>());

    [Fact]
    public void Traffic_targets_match_the_server() => Assert.Equal(Members<UvdpaTrafficTarget>(), Members<UvdpaTrafficDestination>());

    [Fact]
    public void Family_constants_match_the_server()
    {
        Assert.Equal(UvdpaFamily.Name, UvdpaGenlFamily.Name);
        Assert.Equal(UvdpaFamily.Version, UvdpaGenlFamily.Version);
        Assert.Equal(UvdpaFamily.MaxAttr, UvdpaGenlFamily.MaxAttr);
        Assert.Equal(typeof(byte), Enum.GetUnderlyingType(typeof(UvdpaGenlCommand)));
        Assert.Equal(typeof(ushort), Enum.GetUnderlyingType(typeof(UvdpaGenlAttr)));
    }

    [Fact]
    public void Nlctrl_of_the_service_describes_what_the_client_knows()
    {
        using var stack = new ServiceStack();
        using var client = UvdpaClient.Connect(stack.Connect());
        Assert.Equal(UvdpaGenlFamily.Name, client.Family.Name);
        Assert.Equal((uint)UvdpaGenlFamily.MaxAttr, client.Family.MaxAttr);
        Assert.Equal((uint)UvdpaGenlFamily.Version, client.Family.Version);
        Assert.Equal(
            Enum.GetValues<UvdpaGenlCommand>().Where(c => c != UvdpaGenlCommand.Unspec).Select(c => (uint)c),
            client.Family.Operations.Select(o => o.Command));
    }
}
