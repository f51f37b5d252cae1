using CsCheck;
using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Netlink.Tests;

/// <summary>The reader never throws anything but NetlinkFormatException, never reads out of bounds (spans would throw) and always terminates.</summary>
public sealed class FuzzTests
{
    private static readonly byte[][] Seeds = StraceCapture.All().Select(d => d.Bytes).ToArray();

    [Fact]
    public void RandomBytes_OnlyFormatErrors()
    {
        Gen.Byte.Array[0, 300].Sample(b => FuzzTarget.Run(b), iter: 20_000);
    }

    [Fact]
    public void RandomBytesWithPlausibleHeaders_OnlyFormatErrors()
    {
        // Bias towards structure: a valid-looking nlmsghdr and attribute headers with random lengths.
        Gen<byte[]> gen =
            from len in Gen.UShort[0, 200]
            from type in Gen.OneOfConst((ushort)2, (ushort)3, (ushort)0x10, (ushort)0x13)
            from flags in Gen.UShort
            from body in Gen.Byte.Array[0, 200]
            select Build(len, type, flags, body);
        gen.Sample(b => FuzzTarget.Run(b), iter: 20_000);
    }

    [Fact]
    public void MutatedRealMessages_OnlyFormatErrors()
    {
        Gen<byte[]> gen =
            from seed in Gen.Int[0, Seeds.Length - 1]
            from mutations in Gen.Select(Gen.Int[0, 1023], Gen.Byte, Gen.Int[0, 3]).Array[1, 6]
            from cut in Gen.Int[0, 1024]
            select Mutate(Seeds[seed], mutations, cut);
        gen.Sample(b => FuzzTarget.Run(b), iter: 20_000);
    }

    [Fact]
    public void ZeroAttributeLength_IsAnErrorNotALoop()
    {
        byte[] attrs = [0, 0, 1, 0, 0, 0, 0, 0];
        NetlinkAttributeEnumerator e = NetlinkParser.Attributes(attrs);
        Assert.Throws<NetlinkFormatException>(() => { var x = NetlinkParser.Attributes(attrs); while (x.MoveNext()) { } });
        Assert.False(e.TryMoveNext(out _, out string? error));
        Assert.Contains("nla_len 0", error);
    }

    [Fact]
    public void ZeroMessageLength_IsAnErrorNotALoop()
    {
        byte[] msg = new byte[32];
        Assert.False(NetlinkParser.TryValidateDatagram(msg, out _, out string? error));
        Assert.Contains("nlmsg_len 0", error);
    }

    [Fact]
    public void CorpusFiles_Replay()
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "corpus");
        string[] files = Directory.GetFiles(dir, "*.bin");
        Assert.True(files.Length >= 40, $"corpus has {files.Length} files");
        foreach (string f in files) FuzzTarget.Run(File.ReadAllBytes(f));
    }

    /// <summary>Regenerates corpus/ from the captures: UVDPA_WRITE_CORPUS=/path/to/tests/Vdpa.Netlink.Tests/corpus dotnet test --filter WriteCorpus.</summary>
    [Fact]
    public void WriteCorpus()
    {
        string? dir = Environment.GetEnvironmentVariable("UVDPA_WRITE_CORPUS");
        if (string.IsNullOrEmpty(dir)) return;
        Directory.CreateDirectory(dir);
        foreach (CapturedDatagram d in StraceCapture.All())
        {
            string name = $"k{d.Kernel}-{string.Join('-', d.Command.Split(' ').Skip(1))}-{d.Index}-{(d.Sent ? "req" : "rep")}";
            File.WriteAllBytes(Path.Combine(dir, Sanitize(name) + ".bin"), d.Bytes);
        }
        File.WriteAllBytes(Path.Combine(dir, "malformed-nla-len-0.bin"), Build(24, 0x13, 0, [5, 1, 0, 0, 0, 0, 4, 0]));
        File.WriteAllBytes(Path.Combine(dir, "malformed-nla-len-past-end.bin"), Build(28, 0x13, 0, [5, 1, 0, 0, 0xff, 0, 4, 0, 1, 2, 3, 4]));
        File.WriteAllBytes(Path.Combine(dir, "malformed-nlmsg-len-0.bin"), new byte[20]);
        File.WriteAllBytes(Path.Combine(dir, "malformed-short-header.bin"), [0x10, 0, 0, 0, 2, 0]);
        File.WriteAllBytes(Path.Combine(dir, "malformed-error-echo-past-end.bin"), Build(36, 2, 0, [0xed, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x13, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    }

    private static string Sanitize(string s) => new(s.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' ? c : '_').ToArray());

    internal static byte[] Build(int len, ushort type, ushort flags, byte[] body)
    {
        var b = new byte[16 + body.Length];
        new NlMsgHeader((uint)len, type, (NetlinkMessageFlags)flags, 1, 2).Write(b);
        body.CopyTo(b, 16);
        return b;
    }

    private static byte[] Mutate(byte[] seed, (int Pos, byte Value, int Kind)[] mutations, int cut)
    {
        byte[] b = (byte[])seed.Clone();
        foreach (var (pos, value, kind) in mutations)
        {
            if (b.Length == 0) break;
            int p = pos % b.Length;
            switch (kind)
            {
                case 0: b[p] = value; break;
                case 1: b[p] ^= (byte)(1 << (value & 7)); break;
                case 2: b[p & ~3] = value; b[(p & ~3) + 1 < b.Length ? (p & ~3) + 1 : p] = 0; break; // rewrite a length-ish field
                default: b[p] = 0; break;
            }
        }
        return cut < b.Length && cut % 2 == 0 ? b[..cut] : b;
    }
}
