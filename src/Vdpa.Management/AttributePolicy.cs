using System.Buffers.Binary;
using Uvdpa.Vdpa.Netlink;
using NL = Uvdpa.Vdpa.Netlink.Netlink;

namespace Uvdpa.Vdpa.Management;

/// <summary>The nla_policy types this service uses (enum nla_types subset).</summary>
internal enum PolicyKind : byte
{
    /// <summary>NLA_UNSPEC: no policy entry (rejected by strict validation).</summary>
    Unspec,
    /// <summary>NLA_U8.</summary>
    U8,
    /// <summary>NLA_U16.</summary>
    U16,
    /// <summary>NLA_U32.</summary>
    U32,
    /// <summary>NLA_U64.</summary>
    U64,
    /// <summary>NLA_STRING.</summary>
    String,
    /// <summary>NLA_NUL_STRING.</summary>
    NulString,
    /// <summary>NLA_BINARY.</summary>
    Binary,
    /// <summary>NLA_NESTED.</summary>
    Nested,
}

/// <summary>One struct nla_policy entry: type, .len, and an unsigned minimum (NLA_POLICY_MIN) or an exact length (NLA_POLICY_EXACT_LEN).</summary>
internal readonly record struct AttrPolicy(PolicyKind Kind, int Len = 0, ulong Min = 0, int ExactLen = 0)
{
    public static readonly AttrPolicy Unspec = default;
    public static readonly AttrPolicy U8 = new(PolicyKind.U8);
    public static readonly AttrPolicy U16 = new(PolicyKind.U16);
    public static readonly AttrPolicy U32 = new(PolicyKind.U32);
    public static readonly AttrPolicy U64 = new(PolicyKind.U64);
    public static readonly AttrPolicy String = new(PolicyKind.String);
    public static readonly AttrPolicy NulString = new(PolicyKind.NulString);
    public static readonly AttrPolicy Nested = new(PolicyKind.Nested);

    /// <summary>NLA_POLICY_ETH_ADDR = NLA_POLICY_EXACT_LEN(6).</summary>
    public static readonly AttrPolicy EthAddr = new(PolicyKind.Binary, ExactLen: 6);

    /// <summary>nla_attr_len: the exact length the integer types want (0 for others).</summary>
    public int ExactIntLength => Kind switch { PolicyKind.U8 => 1, PolicyKind.U16 => 2, PolicyKind.U32 => 4, PolicyKind.U64 => 8, _ => 0 };

    private ulong TypeMax => Kind switch { PolicyKind.U8 => byte.MaxValue, PolicyKind.U16 => ushort.MaxValue, PolicyKind.U32 => uint.MaxValue, _ => ulong.MaxValue };

    /// <summary>What netlink_policy_dump_write_attr writes for this entry (the content of NLMSGERR_ATTR_POLICY).</summary>
    public byte[] Encode()
    {
        switch (Kind)
        {
            case PolicyKind.U8: return NetlinkExtAckInfo.UnsignedRangePolicy(NetlinkAttributeKind.U8, Min, TypeMax);
            case PolicyKind.U16: return NetlinkExtAckInfo.UnsignedRangePolicy(NetlinkAttributeKind.U16, Min, TypeMax);
            case PolicyKind.U32: return NetlinkExtAckInfo.UnsignedRangePolicy(NetlinkAttributeKind.U32, Min, TypeMax);
            case PolicyKind.U64: return NetlinkExtAckInfo.UnsignedRangePolicy(NetlinkAttributeKind.U64, Min, TypeMax);
            case PolicyKind.Binary when ExactLen > 0:
                return NetlinkExtAckInfo.LengthRangePolicy(NetlinkAttributeKind.Binary, (uint)ExactLen, (uint)ExactLen);
            case PolicyKind.Nested:
                return TypeOnly(NetlinkAttributeKind.Nested, 0);
            case PolicyKind.String: return TypeOnly(NetlinkAttributeKind.String, Len);
            case PolicyKind.NulString: return TypeOnly(NetlinkAttributeKind.NulString, Len);
            case PolicyKind.Binary: return TypeOnly(NetlinkAttributeKind.Binary, Len);
            default: return [];
        }
    }

    private static byte[] TypeOnly(NetlinkAttributeKind kind, int maxLength)
    {
        Span<byte> buf = stackalloc byte[32];
        var w = new NetlinkWriter(buf);
        if (maxLength > 0) w.PutU32((ushort)NetlinkPolicyTypeAttribute.MaxLength, (uint)maxLength);
        w.PutU32((ushort)NetlinkPolicyTypeAttribute.Type, (uint)kind);
        return w.ToArray();
    }
}

/// <summary>Where a validated attribute sits in the request message (offset of its nlattr, nla_len); Offset −1 = absent.</summary>
internal readonly record struct AttrRef(int Offset, int Length)
{
    public static readonly AttrRef None = new(-1, 0);

    public bool Present => Offset >= 0;

    public ReadOnlySpan<byte> Payload(ReadOnlySpan<byte> message) => message.Slice(Offset + NL.AttributeHeaderSize, Length - NL.AttributeHeaderSize);
}

/// <summary>__nla_validate_parse + validate_nla (lib/nlattr.c, Linux 6.12) for the policies above.</summary>
internal static class AttributeValidator
{
    public const string FailedPolicy = "Attribute failed policy validation";

    /// <summary>
    /// Validates the attributes of <paramref name="message"/> from <paramref name="attrStart"/> against
    /// <paramref name="policy"/> (index = type, length = maxtype + 1) and fills <paramref name="table"/> (last one of a
    /// type wins, as tb[type] = nla). <paramref name="strict"/> = NL_VALIDATE_STRICT, else NL_VALIDATE_LIBERAL.
    /// Returns 0 or a positive errno with <paramref name="extack"/> filled.
    /// </summary>
    public static int Parse(ReadOnlySpan<byte> message, int attrStart, AttrPolicy[] policy, bool strict, AttrRef[]? table, ExtAck extack)
    {
        int maxType = policy.Length - 1;
        int pos = attrStart;
        int rem = message.Length - attrStart;
        while (rem >= NL.AttributeHeaderSize)
        {
            ushort len = BinaryPrimitives.ReadUInt16LittleEndian(message[pos..]);
            ushort rawType = BinaryPrimitives.ReadUInt16LittleEndian(message[(pos + 2)..]);
            if (len < NL.AttributeHeaderSize || len > rem) break; // !nla_ok: the rest is "leftover"
            int type = rawType & NL.AttributeTypeMask;
            if (type == 0 || type > maxType)
            {
                if (strict)
                {
                    extack.SetAttribute("Unknown attribute type", pos);
                    return Errno.EINVAL;
                }
            }
            else
            {
                int err = ValidateOne(message, pos, len, rawType, policy[type], strict, extack);
                if (err != 0) return err;
                if (table is not null) table[type] = new AttrRef(pos, len);
            }
            int step = NL.AlignAttribute(len);
            pos += step;
            rem -= step;
        }
        if (rem > 0)
        {
            extack.Set("bytes leftover after parsing attributes");
            if (strict) return Errno.EINVAL;
        }
        return 0;
    }

    /// <summary>validate_nla for one attribute.</summary>
    public static int ValidateOne(ReadOnlySpan<byte> message, int pos, int len, ushort rawType, AttrPolicy pt, bool strict, ExtAck extack)
    {
        int attrLen = len - NL.AttributeHeaderSize;
        ReadOnlySpan<byte> payload = message.Slice(pos + NL.AttributeHeaderSize, attrLen);
        int exact = pt.ExactIntLength;
        if (exact != 0 && attrLen != exact && strict)
        {
            extack.SetAttributePolicy("invalid attribute length", pos, pt.Encode());
            return Errno.EINVAL;
        }
        if (strict && pt.Kind != PolicyKind.Unspec)
        {
            bool nestedFlag = (rawType & NL.AttributeNested) != 0;
            if (pt.Kind == PolicyKind.Nested && !nestedFlag)
            {
                extack.SetAttributePolicy("NLA_F_NESTED is missing", pos, pt.Encode());
                return Errno.EINVAL;
            }
            if (pt.Kind != PolicyKind.Nested && nestedFlag)
            {
                extack.SetAttributePolicy("NLA_F_NESTED not expected", pos, pt.Encode());
                return Errno.EINVAL;
            }
        }

        switch (pt.Kind)
        {
            case PolicyKind.Unspec:
                if (strict)
                {
                    extack.SetAttribute("Unsupported attribute", pos);
                    return Errno.EINVAL;
                }
                break;
            case PolicyKind.NulString:
            {
                int minLen = pt.Len > 0 ? Math.Min(attrLen, pt.Len + 1) : attrLen;
                if (minLen == 0 || payload[..minLen].IndexOf((byte)0) < 0) return Fail(Errno.EINVAL);
                goto case PolicyKind.String;
            }
            case PolicyKind.String:
                if (attrLen < 1) return Fail(Errno.ERANGE);
                if (pt.Len > 0)
                {
                    int l = attrLen;
                    if (payload[l - 1] == 0) l--;
                    if (l > pt.Len) return Fail(Errno.ERANGE);
                }
                break;
            case PolicyKind.Binary:
                if (pt.Len > 0 && attrLen > pt.Len) return Fail(Errno.ERANGE);
                break;
            case PolicyKind.Nested:
                if (attrLen == 0) break;
                if (attrLen < NL.AttributeHeaderSize) return Fail(Errno.ERANGE);
                break;
            default:
                if (attrLen < exact) return Fail(Errno.ERANGE);
                break;
        }

        // Further validation (nla_validate_int_range / NLA_VALIDATE_RANGE on binary lengths).
        if (pt.Kind == PolicyKind.Binary && pt.ExactLen > 0 && attrLen != pt.ExactLen)
        {
            extack.SetAttributePolicy("binary attribute size out of range", pos, pt.Encode());
            return Errno.ERANGE;
        }
        if (pt.Min > 0 && exact != 0)
        {
            ulong v = exact switch
            {
                1 => payload[0],
                2 => BinaryPrimitives.ReadUInt16LittleEndian(payload),
                4 => BinaryPrimitives.ReadUInt32LittleEndian(payload),
                _ => BinaryPrimitives.ReadUInt64LittleEndian(payload),
            };
            if (v < pt.Min)
            {
                extack.SetAttributePolicy("integer out of range", pos, pt.Encode());
                return Errno.ERANGE;
            }
        }
        return 0;

        int Fail(int errno)
        {
            extack.SetAttributePolicy(FailedPolicy, pos, pt.Encode());
            return errno;
        }
    }
}
