namespace Uvdpa.Vdpa.Cli;

/// <summary>
/// The C library behaviour iproute2's argument parsing depends on: glibc <c>strtoul</c>/<c>strtoull</c>
/// (leading white space, an optional sign that negates modulo 2^64, the <c>0x</c> prefix in base 16 and 0) and
/// iproute2's <c>get_u16</c>/<c>get_u32</c>/<c>get_u64</c> (lib/utils.c) built on them.
/// </summary>
internal static class CLib
{
    /// <summary>isspace() in the C locale.</summary>
    public static bool IsSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';

    /// <summary>
    /// glibc strtoull(<paramref name="s"/> + <paramref name="start"/>, &amp;end, <paramref name="numberBase"/>) for base
    /// 0, 8, 10 or 16. <paramref name="end"/> is the index after the last character consumed (equal to
    /// <paramref name="start"/> when nothing was converted); <paramref name="overflow"/> is ERANGE (value = ULLONG_MAX).
    /// </summary>
    public static ulong StrToULL(string s, int start, int numberBase, out int end, out bool overflow)
    {
        overflow = false;
        end = start;
        int i = start;
        while (i < s.Length && IsSpace(s[i])) i++;
        bool negative = false;
        if (i < s.Length && (s[i] == '+' || s[i] == '-'))
        {
            negative = s[i] == '-';
            i++;
        }
        if ((numberBase == 0 || numberBase == 16) && i + 1 < s.Length && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X'))
        {
            // "0x" counts as a prefix only when a hex digit follows; otherwise the "0" alone is converted.
            if (i + 2 < s.Length && DigitValue(s[i + 2]) is >= 0 and < 16)
            {
                i += 2;
                numberBase = 16;
            }
            else if (numberBase == 0)
            {
                numberBase = 8;
            }
        }
        else if (numberBase == 0)
        {
            numberBase = i < s.Length && s[i] == '0' ? 8 : 10;
        }

        ulong value = 0;
        int digitsStart = i;
        while (i < s.Length)
        {
            int d = DigitValue(s[i]);
            if (d < 0 || d >= numberBase) break;
            if (!overflow)
            {
                UInt128 next = (UInt128)value * (uint)numberBase + (uint)d;
                if (next > ulong.MaxValue) overflow = true;
                else value = (ulong)next;
            }
            i++;
        }
        if (i == digitsStart) return 0;
        end = i;
        if (overflow) return ulong.MaxValue;
        return negative ? unchecked(0UL - value) : value;
    }

    /// <summary>strtoul on a 64-bit C library (unsigned long is 64 bits), the same as <see cref="StrToULL"/>.</summary>
    public static ulong StrToUL(string s, int start, int numberBase, out int end, out bool overflow) =>
        StrToULL(s, start, numberBase, out end, out overflow);

    /// <summary>iproute2 get_u64(): the whole string must convert and must not overflow.</summary>
    public static bool TryGetU64(string arg, int numberBase, out ulong value)
    {
        value = 0;
        if (string.IsNullOrEmpty(arg)) return false;
        ulong res = StrToULL(arg, 0, numberBase, out int end, out bool overflow);
        if (end == 0 || end != arg.Length) return false;
        if (overflow) return false;
        value = res;
        return true;
    }

    /// <summary>iproute2 get_u32().</summary>
    public static bool TryGetU32(string arg, int numberBase, out uint value)
    {
        value = 0;
        if (!TryGetU64(arg, numberBase, out ulong res) || res > uint.MaxValue) return false;
        value = (uint)res;
        return true;
    }

    /// <summary>iproute2 get_u16().</summary>
    public static bool TryGetU16(string arg, int numberBase, out ushort value)
    {
        value = 0;
        if (!TryGetU64(arg, numberBase, out ulong res) || res > ushort.MaxValue) return false;
        value = (ushort)res;
        return true;
    }

    /// <summary>
    /// sscanf(<paramref name="s"/>, "%x", &amp;int): true when at least one hex digit converted; the value is the low 32
    /// bits of the strtoul result, as glibc stores it into an unsigned int. Trailing characters are ignored.
    /// </summary>
    public static bool ScanHexInt(string s, out int value)
    {
        value = 0;
        ulong v = StrToULL(s, 0, 16, out int end, out _);
        if (end == 0) return false;
        value = unchecked((int)(uint)v);
        return true;
    }

    private static int DigitValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'z' => c - 'a' + 10,
        >= 'A' and <= 'Z' => c - 'A' + 10,
        _ => -1,
    };
}
