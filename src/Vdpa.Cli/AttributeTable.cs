using System.Buffers.Binary;
using System.Text;
using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Cli;

/// <summary>
/// The tool's <c>struct nlattr *tb[VDPA_ATTR_MAX + 1]</c> filled by mnl_attr_parse with its attr_cb: types above
/// VDPA_ATTR_MAX are skipped, the last occurrence of a type wins, and the first attribute that fails the tool's
/// policy (vdpa_policy: exact widths for the integer types, NUL-terminated names) stops the parse, leaving only
/// what came before it.
/// </summary>
internal sealed class AttributeTable
{
    /// <summary>VDPA_ATTR_MAX in iproute2 7.1's uapi header (the enum terminator).</summary>
    public const int MaxAttr = 37;

    private readonly byte[]?[] _payloads = new byte[MaxAttr + 1][];

    /// <summary>Parses the attributes of one genetlink message (<paramref name="attributes"/> = bytes after the genlmsghdr).</summary>
    public static AttributeTable Parse(ReadOnlySpan<byte> attributes)
    {
        var t = new AttributeTable();
        foreach (RawAttribute a in RawAttribute.Enumerate(attributes))
        {
            int type = a.RawType & Netlink.Netlink.AttributeTypeMask;
            if (type > MaxAttr) continue;
            if (!Validate((VdpaAttr)type, a.Payload)) break;
            t._payloads[type] = a.Payload.ToArray();
        }
        return t;
    }

    /// <summary>tb[type] != NULL.</summary>
    public bool Has(VdpaAttr type) => _payloads[(int)type] is not null;

    /// <summary>The payload of tb[type].</summary>
    public ReadOnlySpan<byte> Payload(VdpaAttr type) => _payloads[(int)type];

    /// <summary>mnl_attr_get_str: the payload up to its first NUL.</summary>
    public string Str(VdpaAttr type) => CString(Payload(type));

    /// <summary>mnl_attr_get_u16 (a shorter payload reads as zero-extended).</summary>
    public ushort U16(VdpaAttr type) => (ushort)ReadLittle(Payload(type), 2);

    /// <summary>mnl_attr_get_u32.</summary>
    public uint U32(VdpaAttr type) => (uint)ReadLittle(Payload(type), 4);

    /// <summary>mnl_attr_get_u64.</summary>
    public ulong U64(VdpaAttr type) => ReadLittle(Payload(type), 8);

    /// <summary>A C string: the bytes up to the first NUL (or all), decoded as UTF-8.</summary>
    public static string CString(ReadOnlySpan<byte> payload)
    {
        int nul = payload.IndexOf((byte)0);
        return Encoding.UTF8.GetString(nul < 0 ? payload : payload[..nul]);
    }

    /// <summary>Reads up to <paramref name="width"/> little-endian bytes (missing bytes read as 0).</summary>
    public static ulong ReadLittle(ReadOnlySpan<byte> p, int width)
    {
        Span<byte> b = stackalloc byte[8];
        b.Clear();
        p[..Math.Min(p.Length, width)].CopyTo(b);
        return BinaryPrimitives.ReadUInt64LittleEndian(b);
    }

    // libmnl mnl_attr_validate against the tool's vdpa_policy.
    private static bool Validate(VdpaAttr type, ReadOnlySpan<byte> p) => type switch
    {
        VdpaAttr.MgmtdevBusName or VdpaAttr.MgmtdevDevName => p.Length > 0 && p[^1] == 0,
        VdpaAttr.DevName => p.Length > 0,
        VdpaAttr.DevId or VdpaAttr.DevVendorId or VdpaAttr.DevMaxVqs or VdpaAttr.DevMgmtdevMaxVqs => p.Length == 4,
        VdpaAttr.DevMaxVqSize => p.Length == 2,
        VdpaAttr.DevNegotiatedFeatures or VdpaAttr.DevSupportedFeatures => p.Length == 8,
        _ => true,
    };
}

/// <summary>One attribute as libmnl's mnl_attr_for_each sees it (raw type with flag bits, payload without padding).</summary>
internal readonly ref struct RawAttribute
{
    public RawAttribute(ushort rawType, ReadOnlySpan<byte> payload)
    {
        RawType = rawType;
        Payload = payload;
    }

    public ushort RawType { get; }

    public ReadOnlySpan<byte> Payload { get; }

    /// <summary>mnl_attr_for_each: stops at the first attribute that does not fit (mnl_attr_ok).</summary>
    public static Enumerator Enumerate(ReadOnlySpan<byte> area) => new(area);

    public ref struct Enumerator
    {
        private readonly ReadOnlySpan<byte> _area;
        private int _offset;
        private RawAttribute _current;

        public Enumerator(ReadOnlySpan<byte> area)
        {
            _area = area;
            _offset = 0;
            _current = default;
        }

        public readonly RawAttribute Current => _current;

        public readonly Enumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            int left = _area.Length - _offset;
            if (left < 4) return false;
            ushort len = BinaryPrimitives.ReadUInt16LittleEndian(_area[_offset..]);
            ushort type = BinaryPrimitives.ReadUInt16LittleEndian(_area[(_offset + 2)..]);
            if (len < 4 || len > left) return false;
            _current = new RawAttribute(type, _area.Slice(_offset + 4, len - 4));
            _offset += (len + 3) & ~3;
            return true;
        }
    }
}
