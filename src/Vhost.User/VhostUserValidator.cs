namespace Uvdpa.Vhost.User;

/// <summary>What the validator needs to know about the session.</summary>
/// <param name="VringCount">Vrings the front-end may name.</param>
/// <param name="AckedProtocolFeatures">Protocol features the front-end set (SET_PROTOCOL_FEATURES).</param>
/// <param name="ProtocolFeaturesNegotiated">True once SET_PROTOCOL_FEATURES arrived (bit 30 was offered).</param>
/// <param name="FeaturesSet">True once SET_FEATURES was accepted in this session.</param>
public readonly record struct ValidationContext(int VringCount, ProtocolFeatures AckedProtocolFeatures, bool ProtocolFeaturesNegotiated, bool FeaturesSet = false);

/// <summary>
/// Checks a front-end message in layers before any handler runs (rust-vmm vhost's order): header; known request;
/// payload size; number of descriptors; negotiated protocol feature; vring index and value ranges. Every failure is
/// a <see cref="VhostUserProtocolException"/>: the message cannot be trusted, so the connection closes.
/// </summary>
public static class VhostUserValidator
{
    /// <summary>Layer 0, before the payload is read: version 1, no reserved bits, REPLY as expected, size capped.</summary>
    public static void CheckHeader(VhostUserHeader header, bool expectReply)
    {
        var request = (FrontendRequest)header.Request;
        if ((header.Flags & VhostUserHeader.VersionMask) != VhostUserHeader.Version)
            throw new VhostUserProtocolException(request, $"unsupported version in flags 0x{header.Flags:x}");
        const uint known = VhostUserHeader.VersionMask | VhostUserHeader.ReplyFlag | VhostUserHeader.NeedReplyFlag;
        if ((header.Flags & ~known) != 0)
            throw new VhostUserProtocolException(request, $"reserved flag bits set: 0x{header.Flags:x}");
        if (((header.Flags & VhostUserHeader.ReplyFlag) != 0) != expectReply)
            throw new VhostUserProtocolException(request, expectReply ? "expected a reply" : "unexpected reply flag on a request");
        if (header.PayloadSize > VhostUserHeader.MaxPayload)
            throw new VhostUserProtocolException(request, $"payload of {header.PayloadSize} bytes exceeds {VhostUserHeader.MaxPayload}");
    }

    /// <summary>Layers 1–5 for a request received by the back-end.</summary>
    public static void Validate(VhostUserMessage message, in ValidationContext context)
    {
        ArgumentNullException.ThrowIfNull(message);
        var r = message.Request;
        int size = message.Payload.Length;

        // Layer 1: the request is one this back-end implements.
        // Layer 2: exact payload size.
        int expected = r switch
        {
            FrontendRequest.GetFeatures or FrontendRequest.SetOwner or FrontendRequest.ResetOwner
                or FrontendRequest.GetProtocolFeatures or FrontendRequest.GetQueueNum or FrontendRequest.GetStatus => 0,
            FrontendRequest.SetFeatures or FrontendRequest.SetProtocolFeatures or FrontendRequest.SetStatus
                or FrontendRequest.SetVringKick or FrontendRequest.SetVringCall or FrontendRequest.SetVringErr => sizeof(ulong),
            FrontendRequest.SetVringNum or FrontendRequest.SetVringBase or FrontendRequest.GetVringBase
                or FrontendRequest.SetVringEnable => VhostVringState.Size,
            FrontendRequest.SetVringAddr => VhostVringAddr.Size,
            FrontendRequest.GetInflightFd or FrontendRequest.SetInflightFd => VhostUserInflight.Size,
            FrontendRequest.SetMemTable => MemTableSize(message),
            FrontendRequest.GetConfig or FrontendRequest.SetConfig => ConfigSize(message),
            _ => throw new VhostUserProtocolException(r, $"unsupported request {(uint)r}"),
        };
        if (size != expected) throw new VhostUserProtocolException(r, $"payload is {size} bytes, expected {expected}");

        // Layer 3: descriptors (CVE-2019-14818, CVE-2022-0669: any fd a message does not take is an attack).
        int fds = r switch
        {
            FrontendRequest.SetMemTable => (int)message.Read<uint>(),
            FrontendRequest.SetInflightFd => 1,
            FrontendRequest.SetVringKick or FrontendRequest.SetVringCall or FrontendRequest.SetVringErr
                => (message.ReadU64() & VringFdIndex.NoFdFlag) != 0 ? 0 : 1,
            _ => 0,
        };
        if (message.DescriptorCount != fds)
            throw new VhostUserProtocolException(r, $"{message.DescriptorCount} descriptors, expected {fds}");

        // Layer 4: gating protocol feature.
        var gate = r switch
        {
            FrontendRequest.GetQueueNum => ProtocolFeatures.Mq,
            FrontendRequest.GetConfig or FrontendRequest.SetConfig => ProtocolFeatures.Config,
            FrontendRequest.GetStatus or FrontendRequest.SetStatus => ProtocolFeatures.Status,
            FrontendRequest.GetInflightFd or FrontendRequest.SetInflightFd => ProtocolFeatures.InflightShmfd,
            _ => ProtocolFeatures.None,
        };
        if ((context.AckedProtocolFeatures & gate) != gate)
            throw new VhostUserProtocolException(r, $"protocol feature {gate} was not negotiated");
        // DPDK 22.11 virtio_user in server mode opens a reconnected session with SET_VRING_ENABLE(0) and GET_VRING_BASE
        // before GET_FEATURES (vhost-user.md §3.3 F): a disable before any negotiation is accepted (a no-op).
        if (r == FrontendRequest.SetVringEnable && !context.ProtocolFeaturesNegotiated
            && (context.FeaturesSet || message.Read<VhostVringState>().Num != 0))
            throw new VhostUserProtocolException(r, "SET_VRING_ENABLE without VHOST_USER_F_PROTOCOL_FEATURES");

        // Layer 5: indices and value ranges.
        switch (r)
        {
            case FrontendRequest.SetVringNum or FrontendRequest.SetVringBase or FrontendRequest.GetVringBase or FrontendRequest.SetVringEnable:
                {
                    var s = message.Read<VhostVringState>();
                    CheckIndex(r, s.Index, context);
                    if (r == FrontendRequest.SetVringEnable && s.Num > 1) throw new VhostUserProtocolException(r, $"enable value {s.Num} is not 0 or 1");
                    break;
                }
            case FrontendRequest.SetVringAddr:
                {
                    var a = message.Read<VhostVringAddr>();
                    CheckIndex(r, a.Index, context);
                    if ((a.Flags & ~VhostVringAddr.FlagLog) != 0) throw new VhostUserProtocolException(r, $"unknown vring address flags 0x{a.Flags:x}");
                    break;
                }
            case FrontendRequest.SetVringKick or FrontendRequest.SetVringCall or FrontendRequest.SetVringErr:
                {
                    ulong v = message.ReadU64();
                    if ((v & ~(VringFdIndex.IndexMask | VringFdIndex.NoFdFlag)) != 0) throw new VhostUserProtocolException(r, $"reserved bits in 0x{v:x}");
                    CheckIndex(r, (uint)(v & VringFdIndex.IndexMask), context);
                    break;
                }
            case FrontendRequest.SetMemTable:
                if (message.Read<uint>(sizeof(uint)) != 0) throw new VhostUserProtocolException(r, "memory table padding is not zero");
                break;
            case FrontendRequest.GetInflightFd or FrontendRequest.SetInflightFd:
                {
                    var f = message.Read<VhostUserInflight>();
                    if (f.NumQueues == 0 || f.NumQueues > context.VringCount) throw new VhostUserProtocolException(r, $"inflight num_queues {f.NumQueues} (1..{context.VringCount})");
                    if (f.QueueSize == 0 || f.QueueSize > 32768 || (f.QueueSize & (f.QueueSize - 1)) != 0)
                        throw new VhostUserProtocolException(r, $"inflight queue_size {f.QueueSize} is not a power of 2 in 1..32768");
                    break;
                }
            case FrontendRequest.SetStatus:
                if (message.ReadU64() > 0xff) throw new VhostUserProtocolException(r, "status does not fit a byte");
                break;
            case FrontendRequest.GetConfig or FrontendRequest.SetConfig:
                {
                    var c = message.Read<VhostUserConfigHeader>();
                    if (c.ConfigSize == 0) throw new VhostUserProtocolException(r, "config size 0");
                    if (c.Flags > VhostUserConfigHeader.FlagMigration) throw new VhostUserProtocolException(r, $"unknown config flags 0x{c.Flags:x}");
                    break;
                }
        }
    }

    private static void CheckIndex(FrontendRequest r, uint index, in ValidationContext context)
    {
        if (index >= (uint)context.VringCount) throw new VhostUserProtocolException(r, $"vring index {index} out of range (< {context.VringCount})");
    }

    private static int MemTableSize(VhostUserMessage message)
    {
        if (message.Payload.Length < VhostUserMemory.HeaderSize) return VhostUserMemory.HeaderSize;
        uint n = message.Read<uint>();
        if (n == 0 || n > VhostUserMemory.MaxRegions)
            throw new VhostUserProtocolException(FrontendRequest.SetMemTable, $"{n} memory regions (1..{VhostUserMemory.MaxRegions})");
        return VhostUserMemory.HeaderSize + (int)n * VhostUserMemoryRegion.Size;
    }

    private static int ConfigSize(VhostUserMessage message)
    {
        if (message.Payload.Length < VhostUserConfigHeader.Size) return VhostUserConfigHeader.Size;
        var c = message.Read<VhostUserConfigHeader>();
        if (c.ConfigSize > VhostUserConfigHeader.MaxConfigSize)
            throw new VhostUserProtocolException(message.Request, $"config size {c.ConfigSize} exceeds {VhostUserConfigHeader.MaxConfigSize}");
        return VhostUserConfigHeader.Size + (int)c.ConfigSize;
    }
}
