using System.Text;

namespace Uvdpa.Vdpa.Cli;

/// <summary>iproute2's ll_addr_a2n / ll_addr_n2a (lib/ll_addr.c) as the vdpa tool uses them for MAC addresses.</summary>
internal static class LinkLayerAddress
{
    /// <summary>
    /// Parses <paramref name="arg"/> into <paramref name="address"/> (which keeps its earlier bytes where the text has
    /// fewer parts, as the tool's zeroed buffer does). Colon-separated hex parts (each read with sscanf "%x", so
    /// trailing junk inside a part is ignored; parts beyond the buffer are ignored), or a dotted IPv4 address
    /// (4 bytes). On failure writes <c>"PART" is invalid lladdr.</c> to <paramref name="stderr"/> (nothing for an
    /// IPv4 form that does not fit) and returns false.
    /// </summary>
    public static bool TryParse(string arg, byte[] address, TextWriter stderr)
    {
        if (arg.Contains('.', StringComparison.Ordinal))
        {
            if (!TryParseIPv4(arg, out byte[] v4))
            {
                stderr.Write($"\"{arg}\" is invalid lladdr.\n");
                return false;
            }
            if (address.Length < 4) return false;
            v4.CopyTo(address, 0);
            return true;
        }
        string rest = arg;
        for (int i = 0; i < address.Length; i++)
        {
            int colon = rest.IndexOf(':', StringComparison.Ordinal);
            string part = colon >= 0 ? rest[..colon] : rest;
            if (!CLib.ScanHexInt(part, out int temp) || temp < 0 || temp > 255)
            {
                stderr.Write($"\"{part}\" is invalid lladdr.\n");
                return false;
            }
            address[i] = (byte)temp;
            if (colon < 0) break;
            rest = rest[(colon + 1)..];
        }
        return true;
    }

    /// <summary>ll_addr_n2a for a plain hardware address: "%02x" joined by ':' into a 64-byte buffer (63 characters at most).</summary>
    public static string Format(ReadOnlySpan<byte> address)
    {
        const int BufferLength = 64; // SPRINT_BUF
        var sb = new StringBuilder(3 * address.Length);
        // The tool prints the first byte even for an empty payload (it reads past it); print 00 instead.
        sb.Append(HexByte(address.Length > 0 ? address[0] : (byte)0));
        for (int i = 1, l = 2; i < address.Length && l < BufferLength; i++, l += 3)
        {
            sb.Append(':').Append(HexByte(address[i]));
        }
        return sb.Length > BufferLength - 1 ? sb.ToString(0, BufferLength - 1) : sb.ToString();
    }

    private static string HexByte(byte b) => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture);

    // get_addr_1(AF_INET) → get_addr_ipv4: 1 to 4 parts, each strtoul base 0 and at most 255.
    private static bool TryParseIPv4(string s, out byte[] bytes)
    {
        bytes = new byte[4];
        if (s.Contains(':', StringComparison.Ordinal)) return false; // would be read as IPv6: wrong family
        int pos = 0;
        for (int i = 0; i < 4; i++)
        {
            ulong n = CLib.StrToUL(s, pos, 0, out int end, out _);
            if (n > 255) return false;
            if (end == pos) return false;
            bytes[i] = (byte)n;
            if (end == s.Length) break;
            if (i == 3 || s[end] != '.') return false;
            pos = end + 1;
        }
        return true;
    }
}
