using System.Diagnostics;
using System.Globalization;
using Uvdpa.Vdpa.Netlink;

// Management-plane timings through VdpaClient, one process, one connection to vdpad (bench/mgmt/run.sh drives it).
//   mgmt-bench add  SOCKET COUNT MGMTDEV PREFIX   adds COUNT devices PREFIX0..; prints "add COUNT total_ms per_add_us"
//   mgmt-bench dump SOCKET REPEAT                 DEV_GET dumps; prints "dump i devices ms" per repetition
//   mgmt-bench del  SOCKET COUNT PREFIX           deletes PREFIX0..COUNT-1; prints "del COUNT total_ms per_del_us"
if (args.Length < 3)
{
    Console.Error.WriteLine("usage: mgmt-bench add SOCKET COUNT MGMTDEV PREFIX | dump SOCKET REPEAT | del SOCKET COUNT PREFIX");
    return 2;
}
var inv = CultureInfo.InvariantCulture;
using VdpaClient client = VdpaClient.ConnectDaemon(args[1]);
switch (args[0])
{
    case "add":
    {
        int count = int.Parse(args[2], inv);
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < count; i++) client.AddDevice(args[4] + i.ToString(inv), args[3]);
        sw.Stop();
        Console.WriteLine(string.Create(inv, $"add {count} {sw.Elapsed.TotalMilliseconds:F1} {sw.Elapsed.TotalMicroseconds / count:F1}"));
        return 0;
    }
    case "del":
    {
        int count = int.Parse(args[2], inv);
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < count; i++) client.DeleteDevice(args[3] + i.ToString(inv));
        sw.Stop();
        Console.WriteLine(string.Create(inv, $"del {count} {sw.Elapsed.TotalMilliseconds:F1} {sw.Elapsed.TotalMicroseconds / count:F1}"));
        return 0;
    }
    case "dump":
    {
        int repeat = int.Parse(args[2], inv);
        for (int i = 0; i < repeat; i++)
        {
            var sw = Stopwatch.StartNew();
            int n = client.ListDevices().Count;
            sw.Stop();
            Console.WriteLine(string.Create(inv, $"dump {i} {n} {sw.Elapsed.TotalMilliseconds:F2}"));
        }
        return 0;
    }
    default:
        Console.Error.WriteLine($"unknown verb {args[0]}");
        return 2;
}
